// Data for the review page beyond the episode itself: every comment (page after page on request) and the
// storyboard's cues.
import { useCallback, useEffect, useMemo, useState } from "react";
import { useClient, useQuery } from "urql";
import { AdminEpisodeCommentsDocument } from "../../gql/graphql";
import { transportMessage } from "../../lib/results";
import { parseStoryboard, type StoryboardCue } from "../../lib/review";
import type { CommentNode } from "./Comments";

const PAGE = 100;

export interface EpisodeComments {
  comments: CommentNode[];
  total: number;
  error: string | null;
  loading: boolean;
  hasMore: boolean;
  loadingMore: boolean;
  loadMore: () => void;
}

export function useEpisodeComments(episodeId: string): EpisodeComments {
  const client = useClient();
  const [{ data, error, fetching }] = useQuery({ query: AdminEpisodeCommentsDocument, variables: { id: episodeId, first: PAGE, after: null } });
  const first = data?.episode?.comments ?? null;
  const [more, setMore] = useState<{ nodes: CommentNode[]; cursor: string | null; hasNext: boolean } | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  // A change to the first page (a comment added or deleted) starts the extra pages over.
  useEffect(() => setMore(null), [first]);

  const loadMore = useCallback(() => {
    const cursor = more ? more.cursor : (first?.pageInfo.endCursor ?? null);
    if (!cursor) return;
    setLoadingMore(true);
    void client
      .query(AdminEpisodeCommentsDocument, { id: episodeId, first: PAGE, after: cursor }, { requestPolicy: "network-only" })
      .toPromise()
      .then((result) => {
        const page = result.data?.episode?.comments;
        if (!page) {
          setMoreError(result.error ? transportMessage(result.error) : "More comments could not be loaded.");
          return;
        }
        setMoreError(null);
        setMore((previous) => ({
          nodes: [...(previous?.nodes ?? []), ...page.edges.map((edge) => edge.node)],
          cursor: page.pageInfo.endCursor,
          hasNext: page.pageInfo.hasNextPage,
        }));
      })
      .finally(() => setLoadingMore(false));
  }, [client, episodeId, first, more]);

  const comments = useMemo(() => {
    const seen = new Set<string>();
    const all = [...(first?.edges.map((edge) => edge.node) ?? []), ...(more?.nodes ?? [])];
    return all.filter((node) => !seen.has(node.id) && Boolean(seen.add(node.id)));
  }, [first, more]);

  return {
    comments,
    total: first?.totalCount ?? 0,
    error: error ? transportMessage(error) : moreError,
    loading: fetching && !data,
    hasMore: more ? more.hasNext : Boolean(first?.pageInfo.hasNextPage),
    loadingMore,
    loadMore,
  };
}

/** The storyboard's cues; none while loading or when there is no storyboard (thumbnails are a nicety). */
export function useStoryboard(url: string | null | undefined): StoryboardCue[] {
  const [cues, setCues] = useState<StoryboardCue[]>([]);
  useEffect(() => {
    setCues([]);
    if (!url) return;
    const controller = new AbortController();
    fetch(url, { signal: controller.signal, credentials: "omit" })
      .then((response) => (response.ok ? response.text() : ""))
      .then((text) => setCues(parseStoryboard(text, url)))
      .catch(() => undefined);
    return () => controller.abort();
  }, [url]);
  return cues;
}
