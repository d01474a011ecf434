// An upload that did not finish, kept in this tab's sessionStorage (like the sign-in), so that after a reload the
// editor can choose the same file again and continue where it stopped instead of starting over.
import type { UploadTicket } from "./uploadPolicy";

export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
}

export interface PendingUpload {
  episodeId: string;
  file: FileIdentity;
  ticket: UploadTicket;
}

const PREFIX = "cms-admin:upload:";

export function pendingKey(episodeId: string): string {
  return `${PREFIX}${episodeId}`;
}

/** The same file as before (browsers give no path: name, size and modification time have to do). */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

function isTicket(value: unknown): value is UploadTicket {
  const t = value as Partial<UploadTicket> | null;
  return (
    !!t &&
    typeof t.id === "string" &&
    typeof t.assetId === "string" &&
    typeof t.expiresAt === "string" &&
    (t.method === "DIRECT" || t.method === "PRESIGNED_POST" || t.method === "MULTIPART") &&
    Array.isArray(t.parts)
  );
}

/** The saved upload for the episode, or null when there is none, it is unreadable or its upload has expired. */
export function readPending(storage: Pick<Storage, "getItem">, episodeId: string, now: number = Date.now()): PendingUpload | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(storage.getItem(pendingKey(episodeId)) ?? "null");
  } catch {
    return null;
  }
  const record = parsed as Partial<PendingUpload> | null;
  if (!record || record.episodeId !== episodeId || !isTicket(record.ticket)) return null;
  const file = record.file;
  if (!file || typeof file.name !== "string" || typeof file.size !== "number" || typeof file.lastModified !== "number") {
    return null;
  }
  const expires = Date.parse(record.ticket.expiresAt);
  if (Number.isNaN(expires) || expires <= now) return null;
  return { episodeId, file, ticket: record.ticket };
}

export function writePending(storage: Pick<Storage, "setItem" | "removeItem">, record: PendingUpload | null, episodeId: string) {
  try {
    if (record) storage.setItem(pendingKey(episodeId), JSON.stringify(record));
    else storage.removeItem(pendingKey(episodeId));
  } catch {
    // storage full or blocked: resuming after a reload is a convenience, not a requirement
  }
}
