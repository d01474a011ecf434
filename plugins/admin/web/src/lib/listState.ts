// The program and episode lists keep their search, filters, sort and page in the URL's query string, so a reload,
// a shared link and the back button all show the same list.
import type {
  EpisodeFilter,
  OrderDirection,
  ProgramFilter,
  PublishStatus,
  SearchFilter,
  SearchKind,
  SearchOrder,
} from "../gql/graphql";

export const PAGE_SIZE = 25;
export const STATUSES: readonly PublishStatus[] = ["DRAFT", "PUBLISHED", "ARCHIVED"];
const DIRECTIONS: readonly OrderDirection[] = ["ASC", "DESC"];
const SEARCH_ORDERS: readonly SearchOrder[] = ["RELEVANCE", "DATE"];

export interface ListState<F extends string = string> {
  /** Search text: when it holds more than spaces the list shows `search` results instead of the connection. */
  q: string;
  status: PublishStatus | null;
  category: string;
  language: string;
  /** Comma separated, as typed. */
  tags: string;
  /** A program id (the episode list only). */
  program: string;
  sort: F;
  dir: OrderDirection;
  /** The order of search results (the connection's sort does not apply to them). */
  order: SearchOrder;
  /** Pager cursors: null for the first page, then the `after` cursor of each page seen. */
  cursors: (string | null)[];
}

export interface ListOptions<F extends string> {
  sortFields: readonly F[];
  defaultSort: F;
}

export function defaultListState<F extends string>(options: ListOptions<F>): ListState<F> {
  return {
    q: "",
    status: null,
    category: "",
    language: "",
    tags: "",
    program: "",
    sort: options.defaultSort,
    dir: "DESC",
    order: "RELEVANCE",
    cursors: [null],
  };
}

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | null {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : null;
}

/** The list state a query string describes; unknown or malformed values fall back to the defaults. */
export function parseListState<F extends string>(params: URLSearchParams, options: ListOptions<F>): ListState<F> {
  const defaults = defaultListState(options);
  return {
    q: params.get("q") ?? "",
    status: oneOf(params.get("status"), STATUSES),
    category: params.get("category") ?? "",
    language: params.get("language") ?? "",
    tags: params.get("tags") ?? "",
    program: params.get("program") ?? "",
    sort: oneOf(params.get("sort"), options.sortFields) ?? defaults.sort,
    dir: oneOf(params.get("dir"), DIRECTIONS) ?? defaults.dir,
    order: oneOf(params.get("order"), SEARCH_ORDERS) ?? defaults.order,
    cursors: [null, ...params.getAll("after").filter((cursor) => cursor !== "")],
  };
}

/** The query string for a list state: only what differs from the defaults, in a stable order. */
export function listStateToParams<F extends string>(state: ListState<F>, options: ListOptions<F>): URLSearchParams {
  const defaults = defaultListState(options);
  const params = new URLSearchParams();
  const text: [string, string][] = [
    ["q", state.q],
    ["status", state.status ?? ""],
    ["category", state.category],
    ["language", state.language],
    ["tags", state.tags],
    ["program", state.program],
  ];
  for (const [key, value] of text) if (value.trim() !== "") params.set(key, value);
  if (state.sort !== defaults.sort) params.set("sort", state.sort);
  if (state.dir !== defaults.dir) params.set("dir", state.dir);
  if (state.order !== defaults.order) params.set("order", state.order);
  for (const cursor of state.cursors) if (cursor) params.append("after", cursor);
  return params;
}

/** The state after a change to the search, filters or sort: back to the first page (unless cursors are given). */
export function changeList<F extends string>(state: ListState<F>, change: Partial<ListState<F>>): ListState<F> {
  return { ...state, cursors: [null], ...change };
}

export function isSearching(state: ListState): boolean {
  return state.q.trim() !== "";
}

/** "news, Sport ,, news" -> ["news", "Sport"]: trimmed, empty ones dropped, duplicates (ignoring case) once. */
export function splitTags(text: string): string[] {
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const part of text.split(",")) {
    const tag = part.trim();
    if (tag === "" || seen.has(tag.toLowerCase())) continue;
    seen.add(tag.toLowerCase());
    tags.push(tag);
  }
  return tags;
}

const orNull = (value: string) => (value.trim() === "" ? null : value.trim());

export function programFilterOf(state: ListState): ProgramFilter {
  const tags = splitTags(state.tags);
  return {
    status: state.status,
    category: orNull(state.category),
    language: orNull(state.language),
    tags: tags.length ? tags : null,
  };
}

export function episodeFilterOf(state: ListState): EpisodeFilter {
  return { ...programFilterOf(state), programId: orNull(state.program) };
}

/**
 * The search filter for the same choices. Search has no status filter: editors search drafts too, viewers only
 * what is published (the API allows no more).
 */
export function searchFilterOf(state: ListState, kind: SearchKind, includeDrafts: boolean): SearchFilter {
  const tags = splitTags(state.tags);
  const list = (value: string) => (orNull(value) === null ? null : [value.trim()]);
  return {
    kinds: [kind],
    categories: list(state.category),
    languages: list(state.language),
    tags: tags.length ? tags : null,
    programIds: list(state.program),
    includeDrafts,
  };
}

/** The status to show: PUBLISHED with a publish time still to come reads SCHEDULED. */
export function shownStatus(status: PublishStatus, publishAt: string | null | undefined, now: Date = new Date()): string {
  if (status === "PUBLISHED" && publishAt && new Date(publishAt).getTime() > now.getTime()) return "SCHEDULED";
  return status;
}

/** "31 programs, page 2" / "About 12,000 episodes found, page 1" (search counts can be estimates). */
export function countSentence(count: { total: number; exact: boolean; searching: boolean; page: number; noun: [string, string] }) {
  const { total, exact, searching, page, noun } = count;
  const amount = `${exact ? "" : "About "}${total.toLocaleString()} ${total === 1 ? noun[0] : noun[1]}`;
  return `${amount}${searching ? " found" : ""}, page ${page}`;
}
