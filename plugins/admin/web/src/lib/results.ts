// Mutations answer a union: the object, or an Error (ValidationError carries per-field messages).
export interface FieldError {
  path: readonly string[];
  message: string;
}

export interface ResultProblem {
  /** The message for the whole form (the error's own message). */
  message: string;
  /** Messages by field name (the last element of the API's path, e.g. ["input", "slug"] -> "slug"). */
  fields: Record<string, string>;
}

type Union = { __typename?: string; message?: string; fields?: readonly FieldError[] } | null | undefined;

/** The problem a mutation result reports, or null when it is the object asked for. */
export function problemOf(result: Union): ResultProblem | null {
  if (!result || typeof result.message !== "string") return null;
  const fields: Record<string, string> = {};
  for (const error of result.fields ?? []) {
    const name = error.path[error.path.length - 1];
    if (name !== undefined && !(name in fields)) fields[name] = error.message;
  }
  return { message: result.message, fields };
}

/** A network or GraphQL-level failure (not a typed result) as one readable sentence. */
export function transportMessage(error: { message: string; graphQLErrors?: readonly { message: string }[] }): string {
  const first = error.graphQLErrors?.[0]?.message;
  return first ?? error.message.replace(/^\[(Network|GraphQL)\]\s*/, "");
}
