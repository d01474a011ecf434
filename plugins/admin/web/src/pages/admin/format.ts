// Small pure helpers of the admins' pages.
import type { AuditFilter, JobStatus } from "../../gql/graphql";

/** The job status the address asks for: DEAD (the dead-letter list) when none, null (every status) for ALL. */
export function statusOf(param: string | null): JobStatus | null {
  if (param === "ALL") return null;
  if (param === "QUEUED" || param === "RUNNING" || param === "SUCCEEDED" || param === "DEAD") return param;
  return "DEAD";
}

/** The first line of an error, for a table cell; the whole of it sits in a disclosure. */
export function firstLine(text: string, max = 160): string {
  const line = (text.split("\n", 1)[0] ?? "").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A lag in words: 0 -> "none", 4.2 -> "4 s", 200 -> "3 min 20 s", 7500 -> "2 h 5 min". */
export function lagText(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "none";
  const total = Math.round(seconds);
  if (total < 1) return "under 1 s";
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return total % 60 ? `${minutes} min ${total % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The audit page's filters as the address holds them. */
export interface AuditFilters {
  action: string;
  actor: string;
  target: string;
}

/** The API's filter from the page's: empty ones left out; null when there is none. */
export function auditFilter(filters: AuditFilters): AuditFilter | null {
  const filter: AuditFilter = {};
  if (filters.action.trim()) filter.action = filters.action.trim();
  if (filters.actor.trim()) filter.actorId = filters.actor.trim();
  if (filters.target.trim()) filter.entityId = filters.target.trim();
  return Object.keys(filter).length ? filter : null;
}
