// The normalised cache: entities by __typename + id, lists refreshed after the mutations that change them.
import { cacheExchange, type Cache, type UpdatesConfig, type KeyingConfig } from "@urql/exchange-graphcache";
import type { IntrospectionQuery } from "graphql";
import schema from "../gql/introspection";

/** Objects without an id (connections, page info, playback URLs, upload parts) are stored inside their parent. */
export function embeddedKeys(introspection: IntrospectionQuery): KeyingConfig {
  const keys: KeyingConfig = {};
  for (const type of introspection.__schema.types) {
    if (type.kind !== "OBJECT" || type.name.startsWith("__")) continue;
    const fields = "fields" in type ? (type.fields ?? []) : [];
    if (!fields.some((field) => field.name === "id")) keys[type.name] = () => null;
  }
  return keys;
}

/** Root list fields each mutation changes: refetched on next use instead of patched by hand. */
export const LISTS_CHANGED_BY: Record<string, readonly string[]> = {
  createProgram: ["programs", "search"],
  updateProgram: ["programs", "search"],
  deleteProgram: ["programs", "episodes", "search"],
  publishProgram: ["programs", "search"],
  unpublishProgram: ["programs", "search"],
  createEpisode: ["episodes", "search"],
  updateEpisode: ["episodes", "search"],
  deleteEpisode: ["episodes", "search"],
  publishEpisode: ["episodes", "search"],
  unpublishEpisode: ["episodes", "search"],
  createSource: ["sources"],
  updateSource: ["sources"],
  deleteSource: ["sources"],
  runSource: ["sources"],
  retryJob: ["jobs"],
};

function invalidateRootFields(cache: Cache, names: readonly string[]) {
  for (const field of cache.inspectFields("Query")) {
    if (names.includes(field.fieldName)) cache.invalidate("Query", field.fieldName, field.arguments ?? undefined);
  }
}

function commentTargets(cache: Cache, targetId: unknown) {
  if (typeof targetId !== "string") return;
  for (const typename of ["Episode", "Asset"]) {
    for (const field of cache.inspectFields({ __typename: typename, id: targetId })) {
      if (field.fieldName === "comments" || field.fieldName === "commentCount") {
        cache.invalidate({ __typename: typename, id: targetId }, field.fieldName, field.arguments ?? undefined);
      }
    }
  }
}

export function mutationUpdates(): UpdatesConfig["Mutation"] {
  const updates: NonNullable<UpdatesConfig["Mutation"]> = {};
  for (const [mutation, lists] of Object.entries(LISTS_CHANGED_BY)) {
    updates[mutation] = (_result, _args, cache) => invalidateRootFields(cache, lists);
  }
  updates.addComment = (_result, args, cache) => {
    const input = args.input as { targetId?: unknown } | undefined;
    commentTargets(cache, input?.targetId);
  };
  updates.deleteComment = (_result, args, cache) => {
    cache.invalidate({ __typename: "Comment", id: args.id as string });
  };
  updates.completeUpload = (_result, _args, cache) => invalidateRootFields(cache, ["episodes", "programs"]);
  return updates;
}

export function adminCache() {
  const introspection = schema as unknown as IntrospectionQuery;
  return cacheExchange({ schema: introspection, keys: embeddedKeys(introspection), updates: { Mutation: mutationUpdates() } });
}
