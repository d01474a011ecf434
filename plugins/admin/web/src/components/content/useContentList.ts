// The program and episode lists' rows: the list query's page, or while a search text is entered, the search's.
import { useQuery, type AnyVariables, type CombinedError, type DocumentInput, type UseQueryArgs } from "urql";
import { AdminSearchDocument, type AdminSearchQuery, type SearchKind } from "../../gql/graphql";
import { isSearching, PAGE_SIZE, searchFilterOf, type ListState } from "../../lib/listState";
import { afterOf, type PageInfo } from "../Pager";

type SearchNode = AdminSearchQuery["search"]["edges"][number]["node"];
export type ContentKind = SearchNode["__typename"];
/** A search result of one kind: the search answers a union. */
export type SearchRow<K extends ContentKind> = Extract<SearchNode, { __typename: K }>;

const SEARCH_KINDS: Record<ContentKind, SearchKind> = { Program: "PROGRAM", Episode: "EPISODE" };

interface Connection<Row> {
  totalCount: number;
  edges: readonly { node: Row }[];
  pageInfo: PageInfo;
  /** Search only: false when the total is an estimate. */
  exactCounts?: boolean;
}

export interface ListPage<Row> {
  rows: Row[];
  /** Null until the first answer. */
  total: number | null;
  exact: boolean;
  pageInfo: PageInfo | null;
}

/** The rows, count and paging of a connection; none yet (no answer) gives no rows and no count. */
export function pageOf<Row>(connection: Connection<Row> | undefined): ListPage<Row> {
  if (!connection) return { rows: [], total: null, exact: true, pageInfo: null };
  return {
    rows: connection.edges.map((edge) => edge.node),
    total: connection.totalCount,
    exact: connection.exactCounts ?? true,
    pageInfo: connection.pageInfo,
  };
}

/** The search results' page, keeping the results of `kind` only. */
export function searchPageOf<K extends ContentKind>(search: AdminSearchQuery["search"] | undefined, kind: K): ListPage<SearchRow<K>> {
  if (!search) return pageOf<SearchRow<K>>(undefined);
  const edges = search.edges.flatMap(({ node }) => (node.__typename === kind ? [{ node: node as SearchRow<K> }] : []));
  return pageOf({ ...search, edges });
}

/** The list query's paging and order, from the list state (the page adds its `filter`). */
export function listPaging<F extends string>(state: ListState<F>) {
  return { first: PAGE_SIZE, after: afterOf(state.cursors), orderBy: { field: state.sort, direction: state.dir } };
}

interface ContentListOptions<F extends string, K extends ContentKind, Data, Variables extends AnyVariables, Row> {
  state: ListState<F>;
  kind: K;
  /** Editors search drafts too. */
  includeDrafts: boolean;
  /** The list's own query (paused while searching), its variables and where its connection is in the answer. */
  query: DocumentInput<Data, Variables>;
  variables: Variables;
  connection: (data: Data) => Connection<Row>;
}

export interface ContentList<Row> extends ListPage<Row> {
  searching: boolean;
  error: CombinedError | undefined;
  fetching: boolean;
}

export function useContentList<F extends string, K extends ContentKind, Data, Variables extends AnyVariables, Row>(
  options: ContentListOptions<F, K, Data, Variables, Row>,
): ContentList<Row | SearchRow<K>> {
  const { state, kind, includeDrafts, query, variables, connection } = options;
  const searching = isSearching(state);
  const [listed] = useQuery({ query, variables, pause: searching } as UseQueryArgs<Variables, Data>);
  const [found] = useQuery({
    query: AdminSearchDocument,
    variables: {
      query: state.q.trim(),
      first: PAGE_SIZE,
      after: afterOf(state.cursors),
      filter: searchFilterOf(state, SEARCH_KINDS[kind], includeDrafts),
      orderBy: state.order,
    },
    pause: !searching,
  });
  const current = searching ? found : listed;
  const page: ListPage<Row | SearchRow<K>> = searching
    ? searchPageOf(found.data?.search, kind)
    : pageOf(listed.data ? connection(listed.data) : undefined);
  return { ...page, searching, error: current.error, fetching: current.fetching };
}
