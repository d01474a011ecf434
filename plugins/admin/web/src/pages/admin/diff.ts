// An audit entry's before/after as a field-by-field list of what changed. Nested objects are compared key by key
// ("config.url"); arrays and other values as a whole.

export type Change = "added" | "removed" | "changed";

export interface DiffRow {
  /** The field's path, dotted for nested objects: "config.url". */
  field: string;
  change: Change;
  /** The value as text; undefined when the field was not there. */
  before?: string;
  after?: string;
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Leaves of an object by dotted path: {a: {b: 1}, c: [1]} -> {"a.b": 1, c: [1]}; an empty object stays a leaf. */
export function flatten(value: unknown, prefix = ""): Map<string, unknown> {
  const leaves = new Map<string, unknown>();
  if (!isPlain(value)) {
    if (prefix) leaves.set(prefix, value);
    return leaves;
  }
  const entries = Object.entries(value);
  if (entries.length === 0 && prefix) {
    leaves.set(prefix, value);
    return leaves;
  }
  for (const [key, item] of entries) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlain(item) && Object.keys(item).length > 0) {
      for (const [leaf, leafValue] of flatten(item, path)) leaves.set(leaf, leafValue);
    } else {
      leaves.set(path, item);
    }
  }
  return leaves;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isPlain(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** A value as the table shows it: strings as they are, the rest as JSON ("null", "42", "[\"a\"]"). */
export function shown(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  return JSON.stringify(value) ?? String(value);
}

/** The fields that differ between before and after, in a stable order (by path). A create (no before) lists every
 * field as added, a delete (no after) every field as removed; an audit entry without either gives no rows. */
export function auditDiff(before: unknown, after: unknown): DiffRow[] {
  const old = flatten(isPlain(before) ? before : {});
  const now = flatten(isPlain(after) ? after : {});
  const fields = [...new Set([...old.keys(), ...now.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rows: DiffRow[] = [];
  for (const field of fields) {
    const had = old.has(field);
    const has = now.has(field);
    if (had && has) {
      const a = old.get(field);
      const b = now.get(field);
      if (canonical(a) !== canonical(b)) rows.push({ field, change: "changed", before: shown(a), after: shown(b) });
    } else if (has) {
      rows.push({ field, change: "added", after: shown(now.get(field)) });
    } else {
      rows.push({ field, change: "removed", before: shown(old.get(field)) });
    }
  }
  // {config: {}} against {config: {url: ...}}: the key under it says it all, not the empty object too.
  return rows.filter(
    (row) =>
      !((row.before ?? row.after) === "{}" && row.change !== "changed" && rows.some((other) => other.field.startsWith(`${row.field}.`))),
  );
}
