// Sending a file the way createUpload says, surviving dropped connections. No network code here: requests go
// through an injected `send` (XMLHttpRequest in the app, a script in tests) and API calls through `UploadApi`,
// so every retry and resume decision can be tested without a server.
//
// What the server does (cms/media/uploads.py, cms/http/uploads.py), and how this follows it:
// - DIRECT: PUT /uploads/{id} with the bearer token. A PUT that breaks off stores nothing and leaves the upload
//   PENDING, so the next attempt simply sends the whole body again. Once a body has arrived the upload is
//   RECEIVED and any further PUT answers 409: the earlier body got there (its answer was lost), so we complete.
// - PRESIGNED_POST: one form POST to the bucket; a failed one is sent again whole.
// - MULTIPART: each part is PUT to its presigned URL (no auth header). A part that fails is retried with backoff;
//   when URLs expire (403) or after a pause, `resumeUpload` lists fresh URLs for only the parts the bucket lacks.
// - completeUpload checks the bytes and starts processing. If its answer was lost, the asset has moved on
//   (PROCESSING or READY): that counts as done.
import {
  ApiProblem,
  answerMessage,
  backoffDelay,
  classify,
  partRanges,
  storedBytes,
  TransportError,
  type Outcome,
  type PartRange,
  type PartUrl,
  type Send,
  type SendRequest,
  type UploadApi,
  type UploadMethod,
  type UploadTicket,
} from "./uploadPolicy";

export * from "./uploadPolicy";

export type Phase = "creating" | "uploading" | "retrying" | "stalled" | "completing" | "done" | "failed" | "cancelled";

export interface UploadState {
  phase: Phase;
  loaded: number;
  total: number;
  /** While retrying: when the next attempt starts (ms since the epoch). */
  retryAt: number | null;
  message: string | null;
  fields: Record<string, string>;
  uploadId: string | null;
  assetId: string | null;
  method: UploadMethod | null;
}

export interface UploadFile extends Blob {
  readonly name: string;
}

export interface UploaderOptions {
  send: Send;
  api: UploadApi;
  token: () => string | null;
  onChange?: (state: UploadState) => void;
  /** Keeps the ticket so a reloaded page can continue; called with null once it is no longer needed. */
  remember?: (ticket: UploadTicket | null) => void;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Attempts per body or part before asking the person (who may retry). */
  maxAttempts?: number;
  /** Parts in flight at once (MULTIPART). */
  concurrency?: number;
}

class Stalled extends Error {}
class Failed extends Error {
  constructor(
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

const LOST = "Connection lost — retrying…";
const STALLED = "Connection lost. The upload stopped after several tries; retry when your connection is back.";
const BUSY: ReadonlySet<Phase> = new Set(["creating", "uploading", "retrying", "completing"]);

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new TransportError("aborted"));
      },
      { once: true },
    );
  });
}

export class Uploader {
  state: UploadState;
  private ticket: UploadTicket | null = null;
  private episodeId: string | null = null;
  private controller = new AbortController();
  private readonly inFlight = new Map<number, number>();
  private stored = 0;
  private bodySent = false;
  private waiting = 0;
  private wakers = new Set<() => void>();
  private readonly maxAttempts: number;

  constructor(
    private readonly file: UploadFile,
    private readonly options: UploaderOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.state = {
      phase: "creating",
      loaded: 0,
      total: file.size,
      retryAt: null,
      message: null,
      fields: {},
      uploadId: null,
      assetId: null,
      method: null,
    };
  }

  get busy(): boolean {
    return BUSY.has(this.state.phase);
  }

  /** A new upload for the episode. */
  start(episodeId: string): Promise<UploadState> {
    this.episodeId = episodeId;
    return this.run(async () => {
      this.set({ phase: "creating" });
      const ticket = await this.options.api.createUpload({
        filename: this.file.name,
        size: this.file.size,
        contentType: this.file.type || null,
        episodeId,
      });
      if (this.controller.signal.aborted) throw new TransportError("aborted");
      this.adopt(ticket);
      this.options.remember?.(ticket);
      await this.transfer(ticket.method === "MULTIPART" ? ticket.parts : null);
    });
  }

  /** Continues an upload started before the page was reloaded (the same file chosen again). */
  resume(ticket: UploadTicket): Promise<UploadState> {
    this.adopt(ticket);
    return this.retry();
  }

  /** After the connection came back: multipart asks which parts are missing; a whole body goes again. */
  retry(): Promise<UploadState> {
    if (this.ticket === null) {
      // createUpload itself did not get through: ask again.
      return this.episodeId === null ? Promise.resolve(this.state) : this.start(this.episodeId);
    }
    return this.run(() => this.transfer(null));
  }

  /** Stops the transfer. `forget: false` keeps the ticket, so the same file can continue later (leaving the page). */
  cancel({ forget = true }: { forget?: boolean } = {}): void {
    if (!this.busy && this.state.phase !== "stalled") return;
    this.controller.abort();
    this.set({ phase: "cancelled", message: "Upload cancelled.", retryAt: null });
    if (forget) this.options.remember?.(null);
  }

  /** Cuts a backoff wait short (the browser says it is online again). */
  wake(): void {
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  private adopt(ticket: UploadTicket) {
    this.ticket = ticket;
    this.set({ uploadId: ticket.id, assetId: ticket.assetId, method: ticket.method });
  }

  private set(patch: Partial<UploadState>) {
    // Once cancelled, late events of the aborted run change nothing but the numbers.
    if (this.controller.signal.aborted && patch.phase !== undefined && patch.phase !== "cancelled") return;
    this.state = { ...this.state, ...patch };
    this.options.onChange?.(this.state);
  }

  private progress() {
    let loaded = this.stored;
    for (const value of this.inFlight.values()) loaded += value;
    this.set({ loaded: Math.min(loaded, this.file.size) });
  }

  private async run(step: () => Promise<void>): Promise<UploadState> {
    this.controller = new AbortController();
    this.set({ message: null, fields: {}, retryAt: null });
    try {
      await step();
      this.set({ phase: "done", loaded: this.file.size, message: null, retryAt: null });
      this.options.remember?.(null);
    } catch (error) {
      if (this.controller.signal.aborted) return this.state;
      if (error instanceof Stalled) this.set({ phase: "stalled", message: error.message || STALLED, retryAt: null });
      else if (error instanceof ApiProblem && error.transient) {
        this.set({ phase: "stalled", message: `The API could not be reached: ${error.message}`, retryAt: null });
      } else if (error instanceof ApiProblem || error instanceof Failed) {
        this.set({ phase: "failed", message: error.message, fields: error.fields, retryAt: null });
        if (this.ticket) this.options.remember?.(null);
      } else this.set({ phase: "failed", message: String((error as Error)?.message ?? error), retryAt: null });
    }
    return this.state;
  }

  private async transfer(parts: PartUrl[] | null) {
    const ticket = this.ticket!;
    this.set({ phase: "uploading" });
    if (ticket.method === "MULTIPART") await this.multipart(parts ?? (await this.missingParts()));
    else if (!this.bodySent) await this.wholeBody(ticket);
    await this.complete(ticket);
  }

  private async backoff(attempt: number, retryAfter: number | null) {
    const delay = Math.min(60_000, Math.max(retryAfter ? retryAfter * 1000 : 0, backoffDelay(attempt, this.options.random)));
    const now = this.options.now?.() ?? Date.now();
    this.waiting += 1;
    this.set({ phase: "retrying", message: LOST, retryAt: now + delay });
    let wake = () => {};
    try {
      await new Promise<void>((resolve, reject) => {
        wake = resolve;
        this.wakers.add(wake);
        (this.options.sleep ?? defaultSleep)(delay, this.controller.signal).then(resolve, reject);
      });
    } finally {
      this.wakers.delete(wake);
      this.waiting -= 1;
    }
    if (this.waiting === 0) this.set({ phase: "uploading", message: null, retryAt: null });
  }

  /** One request; a lost connection is an answer too ("retry"), a cancel is not. */
  private async attempt(request: Omit<SendRequest, "signal">): Promise<{ outcome: Outcome; message: string; retryAfter: number | null }> {
    try {
      const answer = await this.options.send({ ...request, signal: this.controller.signal });
      return {
        outcome: classify(answer.status, this.ticket!.method),
        message: answerMessage(answer.status, answer.body),
        retryAfter: answer.retryAfter,
      };
    } catch (error) {
      if (this.controller.signal.aborted) throw new TransportError("aborted");
      if (error instanceof TransportError) return { outcome: "retry", message: error.message, retryAfter: null };
      throw error;
    }
  }

  private async wholeBody(ticket: UploadTicket) {
    let reauthorised = false;
    for (let attempt = 1; ; attempt += 1) {
      this.stored = 0;
      this.inFlight.set(0, 0);
      this.progress();
      const result = await this.attempt(this.bodyRequest(ticket));
      this.inFlight.delete(0);
      if (result.outcome === "ok" || result.outcome === "conflict") {
        // conflict (409): a body already arrived (an earlier answer was lost) or the upload is over; completing says which.
        this.stored = this.file.size;
        this.bodySent = true;
        this.progress();
        return;
      }
      if (result.outcome === "reauth" && !reauthorised) {
        reauthorised = true; // the token may just have been renewed: one more try with the current one
        attempt -= 1;
        continue;
      }
      if (result.outcome === "reauth") throw new Stalled("Your sign-in has expired. Sign in again, then retry the upload.");
      if (result.outcome !== "retry") throw new Failed(result.message);
      if (attempt >= this.maxAttempts) throw new Stalled(STALLED);
      await this.backoff(attempt, result.retryAfter);
    }
  }

  private bodyRequest(ticket: UploadTicket): Omit<SendRequest, "signal"> {
    const onProgress = (loaded: number) => {
      this.inFlight.set(0, loaded);
      this.progress();
    };
    if (ticket.method === "PRESIGNED_POST") {
      const form = new FormData();
      for (const [name, value] of Object.entries(ticket.formFields ?? {})) form.append(name, value);
      form.append("file", this.file, this.file.name);
      return { method: "POST", url: ticket.url!, headers: {}, body: form, onProgress };
    }
    const token = this.options.token();
    if (!token) throw new Stalled("You are signed out. Sign in again, then retry the upload.");
    return { method: "PUT", url: ticket.url!, headers: { authorization: `Bearer ${token}` }, body: this.file, onProgress };
  }

  private async missingParts(): Promise<PartUrl[]> {
    const ticket = this.ticket!;
    const answer = await this.withApiRetries(() => this.options.api.resumeUpload(ticket.id));
    ticket.partSize = answer.partSize;
    ticket.parts = answer.parts;
    this.stored = storedBytes(partRanges(this.file.size, answer.partSize), answer.parts);
    this.inFlight.clear();
    this.progress();
    return answer.parts;
  }

  private async multipart(first: PartUrl[]) {
    let todo = first;
    for (let refreshes = 0; ; refreshes += 1) {
      if ((await this.sendParts(todo)) === "ok") return;
      if (refreshes >= 3) throw new Failed("The storage keeps refusing the upload links. Try again later.");
      todo = await this.missingParts();
    }
  }

  private async sendParts(parts: PartUrl[]): Promise<"ok" | "refresh"> {
    const ranges = new Map(partRanges(this.file.size, this.ticket!.partSize!).map((r) => [r.partNumber, r]));
    const queue = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    let failure: unknown = null;
    let refresh = false;
    const worker = async () => {
      while (queue.length > 0 && failure === null && !refresh) {
        const part = queue.shift()!;
        try {
          const stop = () => failure !== null;
          if ((await this.sendPart(part, ranges.get(part.partNumber), stop)) === "refresh") refresh = true;
        } catch (error) {
          failure ??= error;
        }
      }
    };
    const workers = Math.max(1, Math.min(this.options.concurrency ?? 3, queue.length));
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure !== null) throw failure;
    return refresh ? "refresh" : "ok";
  }

  private async sendPart(part: PartUrl, range: PartRange | undefined, stop: () => boolean): Promise<"ok" | "refresh"> {
    if (!range) throw new Failed(`The server asked for part ${part.partNumber}, which this file does not have.`);
    const n = part.partNumber;
    for (let attempt = 1; ; attempt += 1) {
      this.inFlight.set(n, 0);
      this.progress();
      const result = await this.attempt({
        method: "PUT",
        url: part.url,
        headers: {},
        body: this.file.slice(range.start, range.end),
        onProgress: (loaded) => {
          this.inFlight.set(n, Math.min(loaded, range.end - range.start));
          this.progress();
        },
      });
      this.inFlight.delete(n);
      if (result.outcome === "ok") {
        this.stored += range.end - range.start;
        this.progress();
        return "ok";
      }
      this.progress();
      if (result.outcome === "refresh") return "refresh";
      if (result.outcome !== "retry") throw new Failed(result.message);
      // Another part already gave up: stop too, so the person hears about it now and not after every backoff.
      if (attempt >= this.maxAttempts || stop()) throw new Stalled(STALLED);
      await this.backoff(attempt, result.retryAfter);
    }
  }

  private async withApiRetries<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof ApiProblem && error.transient)) throw error;
        if (attempt >= this.maxAttempts) throw error;
        await this.backoff(attempt, null);
      }
    }
  }

  private async complete(ticket: UploadTicket) {
    this.set({ phase: "completing", message: null });
    for (let round = 0; ; round += 1) {
      try {
        await this.withApiRetries(() => this.options.api.completeUpload(ticket.id));
        return;
      } catch (error) {
        if (!(error instanceof ApiProblem) || error.transient) throw error;
        // An earlier completeUpload whose answer was lost: the asset has moved on.
        const status = await this.options.api.assetStatus(ticket.assetId).catch(() => null);
        if (status === "PROCESSING" || status === "READY") return;
        if (ticket.method === "MULTIPART" && round === 0) {
          const missing = await this.missingParts();
          if (missing.length > 0) {
            this.set({ phase: "uploading" });
            await this.multipart(missing);
            this.set({ phase: "completing" });
            continue;
          }
        }
        if (ticket.method !== "MULTIPART") this.bodySent = false;
        throw error;
      }
    }
  }
}
