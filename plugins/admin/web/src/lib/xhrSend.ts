// The uploader's `send` in the browser: XMLHttpRequest, because fetch() reports no upload progress.
// A connection that goes quiet (no progress for `idleMs`) or a browser that says it went offline counts as lost,
// so the uploader can retry instead of waiting on a dead socket for minutes.
import { TransportError, type Send, type SendRequest, type SendResponse } from "./uploadPolicy";

export const IDLE_MS = 30_000;
// After the last byte the server checks and stores the body; an answer that never comes still ends the attempt.
export const ANSWER_MS = 300_000;

function retryAfterSeconds(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/** A response header, without the console error getResponseHeader logs for one a cross-origin answer hides. */
function header(xhr: XMLHttpRequest, name: string): string | null {
  for (const line of xhr.getAllResponseHeaders().split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return null;
}

export function xhrSend(idleMs: number = IDLE_MS, answerMs: number = ANSWER_MS): Send {
  return (request: SendRequest) =>
    new Promise<SendResponse>((resolve, reject) => {
      if (request.signal.aborted) {
        reject(new TransportError("aborted"));
        return;
      }
      const xhr = new XMLHttpRequest();
      let idle: ReturnType<typeof setTimeout> | undefined;
      let lost: TransportError | null = null;
      const cleanup = () => {
        clearTimeout(idle);
        request.signal.removeEventListener("abort", onAbort);
        window.removeEventListener("offline", onOffline);
      };
      const giveUp = (reason: "network" | "timeout") => {
        lost = new TransportError(reason);
        xhr.abort();
      };
      const watch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => giveUp("timeout"), idleMs);
      };
      const onAbort = () => xhr.abort();
      const onOffline = () => giveUp("network");
      xhr.open(request.method, request.url);
      for (const [name, value] of Object.entries(request.headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        watch();
        request.onProgress(event.loaded);
      };
      // The body is sent: the server may now take a while (checksums, storage) before it answers, but not forever.
      xhr.upload.onload = () => {
        clearTimeout(idle);
        idle = setTimeout(() => giveUp("timeout"), answerMs);
      };
      xhr.onload = () => {
        cleanup();
        resolve({ status: xhr.status, body: xhr.responseText, retryAfter: retryAfterSeconds(header(xhr, "retry-after")) });
      };
      xhr.onerror = () => {
        cleanup();
        reject(new TransportError("network"));
      };
      xhr.ontimeout = () => {
        cleanup();
        reject(new TransportError("timeout"));
      };
      xhr.onabort = () => {
        cleanup();
        reject(lost ?? new TransportError("aborted"));
      };
      request.signal.addEventListener("abort", onAbort, { once: true });
      window.addEventListener("offline", onOffline);
      watch();
      xhr.send(request.body);
    });
}
