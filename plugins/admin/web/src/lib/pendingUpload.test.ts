import { describe, expect, it } from "vitest";
import { pendingKey, readPending, sameFile, writePending, type PendingUpload } from "./pendingUpload";

function memory() {
  const items = new Map<string, string>();
  return {
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
    items,
  };
}

const record: PendingUpload = {
  episodeId: "ep1",
  file: { name: "a.mp4", size: 10, lastModified: 5 },
  ticket: {
    id: "up1",
    method: "MULTIPART",
    url: null,
    formFields: null,
    partSize: 4,
    parts: [{ partNumber: 1, url: "http://s3.test/1" }],
    assetId: "as1",
    expiresAt: "2030-01-01T00:00:00Z",
  },
};

describe("pending uploads", () => {
  it("round-trips a record per episode and forgets it", () => {
    const storage = memory();
    writePending(storage, record, "ep1");
    expect(storage.items.has(pendingKey("ep1"))).toBe(true);
    expect(readPending(storage, "ep1", Date.parse("2029-01-01"))).toEqual(record);
    expect(readPending(storage, "ep2", Date.parse("2029-01-01"))).toBeNull();
    writePending(storage, null, "ep1");
    expect(readPending(storage, "ep1", Date.parse("2029-01-01"))).toBeNull();
  });

  it("ignores expired, malformed or foreign records", () => {
    const storage = memory();
    writePending(storage, record, "ep1");
    expect(readPending(storage, "ep1", Date.parse("2031-01-01"))).toBeNull();
    storage.setItem(pendingKey("ep1"), "{not json");
    expect(readPending(storage, "ep1")).toBeNull();
    storage.setItem(pendingKey("ep1"), JSON.stringify({ ...record, ticket: { ...record.ticket, method: "FTP" } }));
    expect(readPending(storage, "ep1", Date.parse("2029-01-01"))).toBeNull();
    storage.setItem(pendingKey("ep1"), JSON.stringify({ ...record, episodeId: "ep9" }));
    expect(readPending(storage, "ep1", Date.parse("2029-01-01"))).toBeNull();
  });

  it("recognises the same file by name, size and modification time", () => {
    expect(sameFile(record.file, { name: "a.mp4", size: 10, lastModified: 5 })).toBe(true);
    expect(sameFile(record.file, { name: "a.mp4", size: 11, lastModified: 5 })).toBe(false);
    expect(sameFile(record.file, { name: "b.mp4", size: 10, lastModified: 5 })).toBe(false);
  });
});
