// What an upload is made of and the uploader's pure decisions: the ticket createUpload hands out, the transport
// and API seams the uploader is given, what each HTTP answer means, backoff, part ranges, error messages.

export type UploadMethod = "DIRECT" | "PRESIGNED_POST" | "MULTIPART";

export interface PartUrl {
  partNumber: number;
  url: string;
}

export interface UploadTicket {
  id: string;
  method: UploadMethod;
  url: string | null;
  formFields: Record<string, string> | null;
  partSize: number | null;
  parts: PartUrl[];
  assetId: string;
  expiresAt: string;
}

export interface CreateUploadInput {
  filename: string;
  size: number;
  contentType: string | null;
  episodeId: string;
}

/** A typed error from the API (with field messages), or a transport failure (`transient`: worth retrying). */
export class ApiProblem extends Error {
  constructor(
    message: string,
    readonly fields: Record<string, string> = {},
    readonly transient = false,
  ) {
    super(message);
    this.name = "ApiProblem";
  }
}

export interface UploadApi {
  createUpload(input: CreateUploadInput): Promise<UploadTicket>;
  resumeUpload(id: string): Promise<{ partSize: number; parts: PartUrl[] }>;
  completeUpload(id: string): Promise<void>;
  /** The asset's status (UPLOADING, PROCESSING, READY, FAILED), or null when unknown. */
  assetStatus(assetId: string): Promise<string | null>;
}

export interface SendRequest {
  method: "PUT" | "POST";
  url: string;
  headers: Record<string, string>;
  body: Blob | FormData;
  onProgress: (loaded: number) => void;
  signal: AbortSignal;
}

export interface SendResponse {
  status: number;
  body: string;
  /** Seconds from a Retry-After header. */
  retryAfter: number | null;
}

/** The request never got an answer: the connection dropped, stalled or timed out (or it was aborted). */
export class TransportError extends Error {
  constructor(readonly reason: "network" | "timeout" | "aborted") {
    super(reason === "aborted" ? "The upload was cancelled." : "The connection was lost.");
    this.name = "TransportError";
  }
}

export type Send = (request: SendRequest) => Promise<SendResponse>;

export type Outcome = "ok" | "retry" | "reauth" | "refresh" | "conflict" | "fatal";

/** What an HTTP answer means for the next step. */
export function classify(status: number, method: UploadMethod): Outcome {
  if (status >= 200 && status < 300) return "ok";
  if (status === 0 || status === 408 || status === 425 || status === 429 || status >= 500) return "retry";
  if (method === "DIRECT") {
    if (status === 401) return "reauth";
    if (status === 409) return "conflict";
  }
  // A presigned part URL that expired (S3 answers 403 "Request has expired"): resumeUpload mints fresh ones.
  if (method === "MULTIPART" && status === 403) return "refresh";
  return "fatal";
}

/** Exponential backoff with jitter: half the ceiling plus up to half again, the ceiling doubling up to `cap`. */
export function backoffDelay(attempt: number, random: () => number = Math.random, base = 1000, cap = 30_000): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface PartRange {
  partNumber: number;
  start: number;
  end: number;
}

/** The byte range of every part (numbered from 1), the last one shorter. */
export function partRanges(size: number, partSize: number): PartRange[] {
  if (partSize <= 0) throw new Error("partSize must be positive");
  const ranges: PartRange[] = [];
  for (let start = 0, n = 1; start < size; start += partSize, n += 1) {
    ranges.push({ partNumber: n, start, end: Math.min(size, start + partSize) });
  }
  return ranges;
}

/** Bytes the bucket already holds: every part not among those still to send. */
export function storedBytes(ranges: readonly PartRange[], missing: readonly PartUrl[]): number {
  const wanted = new Set(missing.map((part) => part.partNumber));
  return ranges.reduce((sum, range) => (wanted.has(range.partNumber) ? sum : sum + range.end - range.start), 0);
}

/** The message in an error answer: our JSON `{"error": ...}`, S3's XML `<Message>`, else the status. */
export function answerMessage(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON
  }
  const xml = /<Message>([^<]*)<\/Message>/.exec(body);
  if (xml?.[1]) return xml[1];
  return `The server answered HTTP ${status}.`;
}
