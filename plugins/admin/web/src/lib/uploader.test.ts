import { describe, expect, it, vi } from "vitest";
import {
  ApiProblem,
  answerMessage,
  backoffDelay,
  classify,
  partRanges,
  storedBytes,
  TransportError,
  Uploader,
  type PartUrl,
  type SendRequest,
  type SendResponse,
  type UploadApi,
  type UploadState,
  type UploadTicket,
} from "./uploader";

const ok = (status = 200): SendResponse => ({ status, body: "{}", retryAfter: null });

function file(size: number, name = "clip.mp4") {
  return new File([new Uint8Array(size)], name, { type: "video/mp4" });
}

function bodySize(body: Blob | FormData): number {
  return body instanceof Blob ? body.size : 0;
}

type Answer = SendResponse | "drop";

/** A network run by a script: each request gets the next answer the script gives for it. */
function network(script: (request: SendRequest, index: number) => Answer) {
  const calls: SendRequest[] = [];
  const send = vi.fn(async (request: SendRequest) => {
    calls.push(request);
    const answer = script(request, calls.length - 1);
    if (answer === "drop") {
      request.onProgress(Math.floor(bodySize(request.body) / 2));
      throw new TransportError("network");
    }
    request.onProgress(bodySize(request.body));
    return answer;
  });
  return { send, calls };
}

function ticket(method: UploadTicket["method"], extra: Partial<UploadTicket> = {}): UploadTicket {
  return {
    id: "up1",
    method,
    url: method === "MULTIPART" ? null : "http://cms.test/uploads/up1",
    formFields: method === "PRESIGNED_POST" ? { key: "uploads/up1", policy: "p" } : null,
    partSize: null,
    parts: [],
    assetId: "asset1",
    expiresAt: "2999-01-01T00:00:00Z",
    ...extra,
  };
}

function partUrls(numbers: number[], round = "a"): PartUrl[] {
  return numbers.map((n) => ({ partNumber: n, url: `http://s3.test/part-${n}-${round}` }));
}

function api(first: UploadTicket, overrides: Partial<UploadApi> = {}) {
  return {
    createUpload: vi.fn(async () => first),
    resumeUpload: vi.fn(async () => ({ partSize: first.partSize ?? 0, parts: [] as PartUrl[] })),
    completeUpload: vi.fn(async () => undefined),
    assetStatus: vi.fn(async () => "UPLOADING" as string | null),
    ...overrides,
  };
}

function setup(f: File, uploadApi: UploadApi, send: (r: SendRequest) => Promise<SendResponse>, token = () => "tok") {
  const states: UploadState[] = [];
  const sleeps: number[] = [];
  const remembered: (UploadTicket | null)[] = [];
  const uploader = new Uploader(f, {
    send,
    api: uploadApi,
    token,
    onChange: (state) => states.push(state),
    remember: (t) => remembered.push(t),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    maxAttempts: 3,
    concurrency: 2,
  });
  return { uploader, states, sleeps, remembered };
}

describe("policy helpers", () => {
  it("classifies answers per method", () => {
    expect(classify(200, "DIRECT")).toBe("ok");
    expect(classify(204, "PRESIGNED_POST")).toBe("ok");
    expect(classify(503, "MULTIPART")).toBe("retry");
    expect(classify(429, "DIRECT")).toBe("retry");
    expect(classify(0, "DIRECT")).toBe("retry");
    expect(classify(401, "DIRECT")).toBe("reauth");
    expect(classify(409, "DIRECT")).toBe("conflict");
    expect(classify(403, "MULTIPART")).toBe("refresh");
    expect(classify(403, "PRESIGNED_POST")).toBe("fatal");
    expect(classify(415, "DIRECT")).toBe("fatal");
    expect(classify(409, "MULTIPART")).toBe("fatal");
  });

  it("backs off exponentially with jitter and a cap", () => {
    expect(backoffDelay(1, () => 0)).toBe(500);
    expect(backoffDelay(1, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(20, () => 1)).toBe(30_000);
    expect(backoffDelay(20, () => 0)).toBe(15_000);
  });

  it("splits a file into parts and counts the bytes already stored", () => {
    const ranges = partRanges(10, 4);
    expect(ranges).toEqual([
      { partNumber: 1, start: 0, end: 4 },
      { partNumber: 2, start: 4, end: 8 },
      { partNumber: 3, start: 8, end: 10 },
    ]);
    expect(storedBytes(ranges, partUrls([2]))).toBe(6);
    expect(storedBytes(ranges, [])).toBe(10);
    expect(() => partRanges(10, 0)).toThrow();
  });

  it("reads the server's message from JSON or S3 XML", () => {
    expect(answerMessage(415, '{"error": "not a video"}')).toBe("not a video");
    expect(answerMessage(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")).toBe(
      "Request has expired",
    );
    expect(answerMessage(500, "oops")).toBe("The server answered HTTP 500.");
  });
});

describe("DIRECT uploads", () => {
  it("sends the whole body again after a dropped connection, with the bearer token, then completes", async () => {
    const t = ticket("DIRECT");
    const a = api(t);
    const net = network((_r, i) => (i === 0 ? "drop" : ok()));
    const { uploader, states, sleeps, remembered } = setup(file(1000), a, net.send);
    const final = await uploader.start("ep1");
    expect(final.phase).toBe("done");
    expect(net.calls).toHaveLength(2);
    for (const call of net.calls) {
      expect(call.method).toBe("PUT");
      expect(call.url).toBe("http://cms.test/uploads/up1");
      expect(call.headers.authorization).toBe("Bearer tok");
      expect(bodySize(call.body)).toBe(1000);
    }
    expect(sleeps).toEqual([750]);
    expect(states.some((s) => s.phase === "retrying" && s.message === "Connection lost — retrying…")).toBe(true);
    // the second attempt started over from zero rather than pretending the first half arrived
    const loadedAfterDrop = states.filter((s) => s.phase === "uploading").map((s) => s.loaded);
    expect(loadedAfterDrop).toContain(0);
    expect(a.createUpload).toHaveBeenCalledWith({ filename: "clip.mp4", size: 1000, contentType: "video/mp4", episodeId: "ep1" });
    expect(a.completeUpload).toHaveBeenCalledTimes(1);
    expect(remembered).toEqual([t, null]);
    expect(final.loaded).toBe(1000);
  });

  it("treats 409 on a repeated PUT as 'the body already arrived' and completes", async () => {
    const a = api(ticket("DIRECT"));
    const net = network((_r, i) => (i === 0 ? "drop" : { status: 409, body: '{"error":"this upload no longer accepts data"}', retryAfter: null }));
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(a.completeUpload).toHaveBeenCalledTimes(1);
  });

  it("stops after the attempts run out, then the person's retry sends it again", async () => {
    const a = api(ticket("DIRECT"));
    let online = false;
    const net = network(() => (online ? ok() : "drop"));
    const { uploader, sleeps } = setup(file(10), a, net.send);
    const stalled = await uploader.start("ep1");
    expect(stalled.phase).toBe("stalled");
    expect(stalled.message).toMatch(/Connection lost/);
    expect(net.calls).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(a.completeUpload).not.toHaveBeenCalled();
    online = true;
    expect((await uploader.retry()).phase).toBe("done");
    expect(net.calls).toHaveLength(4);
    expect(a.createUpload).toHaveBeenCalledTimes(1);
  });

  it("does not retry a refusal (unsupported file) and shows the server's reason", async () => {
    const a = api(ticket("DIRECT"));
    const net = network(() => ({ status: 415, body: '{"error":"the file is not a video"}', retryAfter: null }));
    const { uploader, remembered } = setup(file(10), a, net.send);
    const final = await uploader.start("ep1");
    expect(final.phase).toBe("failed");
    expect(final.message).toBe("the file is not a video");
    expect(net.calls).toHaveLength(1);
    expect(a.completeUpload).not.toHaveBeenCalled();
    expect(remembered[remembered.length - 1]).toBeNull();
  });

  it("tries once more on 401 with the current token (it may just have been renewed)", async () => {
    const a = api(ticket("DIRECT"));
    const tokens = ["old", "new"];
    const net = network((r) => (r.headers.authorization === "Bearer old" ? { status: 401, body: "", retryAfter: null } : ok()));
    const { uploader, sleeps } = setup(file(10), a, net.send, () => tokens.shift() ?? "new");
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(net.calls.map((c) => c.headers.authorization)).toEqual(["Bearer old", "Bearer new"]);
    expect(sleeps).toEqual([]);
  });

  it("honours Retry-After when the server is busy", async () => {
    const a = api(ticket("DIRECT"));
    const net = network((_r, i) => (i === 0 ? { status: 429, body: "", retryAfter: 7 } : ok()));
    const { uploader, sleeps } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(sleeps).toEqual([7000]);
  });

  it("reports field problems from createUpload and sends nothing", async () => {
    const a = api(ticket("DIRECT"), {
      createUpload: vi.fn(async () => {
        throw new ApiProblem("The file was not accepted.", { contentType: "video uploads are not accepted here" });
      }),
    });
    const net = network(() => ok());
    const { uploader } = setup(file(10), a, net.send);
    const final = await uploader.start("ep1");
    expect(final.phase).toBe("failed");
    expect(final.fields).toEqual({ contentType: "video uploads are not accepted here" });
    expect(net.calls).toHaveLength(0);
  });

  it("counts a lost completeUpload answer as done once the asset is processing", async () => {
    const a = api(ticket("DIRECT"), {
      completeUpload: vi.fn(async () => {
        throw new ApiProblem("this upload is already completed");
      }),
      assetStatus: vi.fn(async () => "PROCESSING"),
    });
    const net = network(() => ok());
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
  });

  it("retries completeUpload when the API could not be reached", async () => {
    let calls = 0;
    const a = api(ticket("DIRECT"), {
      completeUpload: vi.fn(async () => {
        calls += 1;
        if (calls === 1) throw new ApiProblem("Failed to fetch", {}, true);
      }),
    });
    const { uploader } = setup(file(10), a, network(() => ok()).send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(calls).toBe(2);
  });

  it("cancels: aborts the request, forgets the upload, and ignores what the aborted request does later", async () => {
    const a = api(ticket("DIRECT"));
    let uploader!: Uploader;
    const send = vi.fn(
      (request: SendRequest) =>
        new Promise<SendResponse>((_resolve, reject) => {
          request.onProgress(3);
          request.signal.addEventListener("abort", () => reject(new TransportError("aborted")));
          queueMicrotask(() => uploader.cancel());
        }),
    );
    const setupResult = setup(file(10), a, send);
    uploader = setupResult.uploader;
    const final = await uploader.start("ep1");
    expect(final.phase).toBe("cancelled");
    expect(send.mock.calls[0]![0].signal.aborted).toBe(true);
    expect(a.completeUpload).not.toHaveBeenCalled();
    expect(setupResult.remembered[setupResult.remembered.length - 1]).toBeNull();
  });
});

describe("PRESIGNED_POST uploads", () => {
  it("posts the form fields before the file", async () => {
    const a = api(ticket("PRESIGNED_POST", { url: "http://s3.test/bucket" }));
    const net = network(() => ok(204));
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    const body = net.calls[0]!.body as FormData;
    expect(net.calls[0]!.method).toBe("POST");
    expect(net.calls[0]!.headers).toEqual({});
    expect([...body.keys()]).toEqual(["key", "policy", "file"]);
  });
});

describe("MULTIPART uploads", () => {
  const t = () => ticket("MULTIPART", { partSize: 4, parts: partUrls([1, 2, 3]) });

  it("retries only the part that failed, without an auth header, then completes", async () => {
    const a = api(t());
    const net = network((r, i) => (r.url.includes("part-2") && i < 3 ? "drop" : ok()));
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    const urls = net.calls.map((c) => c.url);
    expect(urls.filter((u) => u.includes("part-1"))).toHaveLength(1);
    expect(urls.filter((u) => u.includes("part-3"))).toHaveLength(1);
    expect(urls.filter((u) => u.includes("part-2")).length).toBeGreaterThan(1);
    expect(net.calls.every((c) => c.headers.authorization === undefined)).toBe(true);
    expect(net.calls.map((c) => bodySize(c.body))).toContain(2);
    expect(a.resumeUpload).not.toHaveBeenCalled();
    expect(a.completeUpload).toHaveBeenCalledTimes(1);
  });

  it("asks resumeUpload for fresh URLs when a part URL expired and sends only the missing parts", async () => {
    const a = api(t(), { resumeUpload: vi.fn(async () => ({ partSize: 4, parts: partUrls([3], "b") })) });
    const net = network((r) => (r.url === "http://s3.test/part-3-a" ? { status: 403, body: "", retryAfter: null } : ok()));
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(a.resumeUpload).toHaveBeenCalledWith("up1");
    expect(net.calls.map((c) => c.url).sort()).toEqual([
      "http://s3.test/part-1-a",
      "http://s3.test/part-2-a",
      "http://s3.test/part-3-a",
      "http://s3.test/part-3-b",
    ]);
  });

  it("after a stall, resumes with only the parts the bucket lacks and counts the stored ones as sent", async () => {
    let online = true;
    const a = api(t(), { resumeUpload: vi.fn(async () => ({ partSize: 4, parts: partUrls([2, 3], "b") })) });
    const net = network((r) => {
      if (r.url.includes("part-1")) return ok();
      return online ? ok() : "drop";
    });
    const { uploader, states } = setup(file(10), a, net.send);
    online = false;
    const stalled = await uploader.start("ep1");
    expect(stalled.phase).toBe("stalled");
    online = true;
    states.length = 0;
    expect((await uploader.retry()).phase).toBe("done");
    const resumed = net.calls.slice(-2).map((c) => c.url).sort();
    expect(resumed).toEqual(["http://s3.test/part-2-b", "http://s3.test/part-3-b"]);
    // part 1 (4 bytes) was stored: the bar starts there, not at zero
    expect(states.find((s) => s.phase === "uploading")?.loaded).toBe(4);
  });

  it("sends the parts still missing when completeUpload says some are missing", async () => {
    let resumes = 0;
    const a = api(t(), {
      resumeUpload: vi.fn(async () => {
        resumes += 1;
        return { partSize: 4, parts: resumes === 1 ? partUrls([2], "b") : [] };
      }),
      completeUpload: vi.fn(async () => {
        if (resumes === 0) throw new ApiProblem("parts are missing");
      }),
    });
    const net = network(() => ok());
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(net.calls.map((c) => c.url)).toContain("http://s3.test/part-2-b");
    expect(a.completeUpload).toHaveBeenCalledTimes(2);
  });

  it("resumes an upload from before a reload with the same file", async () => {
    const a = api(t(), { resumeUpload: vi.fn(async () => ({ partSize: 4, parts: partUrls([3], "c") })) });
    const net = network(() => ok());
    const { uploader } = setup(file(10), a, net.send);
    expect((await uploader.resume(t())).phase).toBe("done");
    expect(a.createUpload).not.toHaveBeenCalled();
    expect(net.calls.map((c) => c.url)).toEqual(["http://s3.test/part-3-c"]);
  });
});

describe("waking up", () => {
  it("cuts a backoff wait short when the connection is back", async () => {
    const a = api(ticket("DIRECT"));
    const net = network((_r, i) => (i === 0 ? "drop" : ok()));
    let uploader!: Uploader;
    const never = vi.fn(
      (_ms: number, signal: AbortSignal) =>
        new Promise<void>((_resolve, reject) => signal.addEventListener("abort", () => reject(new TransportError("aborted")))),
    );
    uploader = new Uploader(file(10), {
      send: net.send,
      api: a,
      token: () => "tok",
      sleep: never,
      onChange: (state) => {
        if (state.phase === "retrying") queueMicrotask(() => uploader.wake());
      },
    });
    expect((await uploader.start("ep1")).phase).toBe("done");
    expect(never).toHaveBeenCalledTimes(1);
    expect(net.calls).toHaveLength(2);
  });
});
