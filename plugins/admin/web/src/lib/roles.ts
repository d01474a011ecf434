// What the UI offers each role; the API enforces the same rules, this only hides controls a role cannot use.
export type Role = "admin" | "editor" | "viewer";

export interface Abilities {
  /** Create, edit, publish, delete programs, episodes, media and ingest sources; moderate comments. */
  edit: boolean;
  /** Review: watch and comment (every signed-in user). */
  comment: boolean;
  /** Jobs, the audit trail, search status. */
  administer: boolean;
}

export function abilities(roles: readonly string[]): Abilities {
  const admin = roles.includes("admin");
  const editor = admin || roles.includes("editor");
  return { edit: editor, comment: roles.length > 0, administer: admin };
}
