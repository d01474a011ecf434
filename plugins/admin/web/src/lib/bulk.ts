// Bulk actions: one mutation per item, all in a single request. The request is built from a shipped operation
// (graphql/operations/, e.g. PublishProgram): its one root field repeated under the aliases item0, item1, ... with
// its variables renamed per item ($id -> $id_0, $id_1 ...), so every item gets its own typed result.
import type { DocumentNode, FieldNode, Kind, NameNode, OperationDefinitionNode, VariableDefinitionNode } from "graphql";
import { problemOf } from "./results";

// The AST is plain data: built and copied here without graphql-js itself (the admin bundle does not carry it).
const OPERATION = "OperationDefinition" as Kind.OPERATION_DEFINITION;
const FIELD = "Field" as Kind.FIELD;
const nameNode = (value: string): NameNode => ({ kind: "Name" as Kind.NAME, value });

export const aliasOf = (index: number) => `item${index}`;
const variableOf = (name: string, index: number) => `${name}_${index}`;

/** A deep copy of an AST node with every variable renamed (locations dropped). */
function renamed<T>(node: T, rename: (name: string) => string): T {
  if (Array.isArray(node)) return node.map((item: unknown) => renamed(item, rename)) as T;
  if (node === null || typeof node !== "object") return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) if (key !== "loc") copy[key] = renamed(value, rename);
  if (copy.kind === "Variable") copy.name = nameNode(rename((copy.name as NameNode).value));
  return copy as T;
}

function operationOf(document: DocumentNode): OperationDefinitionNode {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === OPERATION);
  const operation = operations[0];
  if (operations.length !== 1 || !operation) throw new Error("a batch repeats a document with exactly one operation");
  if (operation.selectionSet.selections.length !== 1 || operation.selectionSet.selections[0]?.kind !== FIELD) {
    throw new Error("a batch repeats an operation with exactly one root field");
  }
  return operation;
}

/** The document's single root field `count` times over, each copy with its own alias and variables. */
export function batchDocument(document: DocumentNode, count: number): DocumentNode {
  const operation = operationOf(document);
  const field = operation.selectionSet.selections[0] as FieldNode;
  const fields: FieldNode[] = [];
  const variables: VariableDefinitionNode[] = [];
  for (let index = 0; index < count; index += 1) {
    const rename = (name: string) => variableOf(name, index);
    fields.push({ ...renamed(field, rename), alias: nameNode(aliasOf(index)) });
    for (const definition of operation.variableDefinitions ?? []) variables.push(renamed(definition, rename));
  }
  const batch: OperationDefinitionNode = {
    ...operation,
    name: nameNode(operation.name ? `${operation.name.value}Batch` : "Batch"),
    variableDefinitions: variables,
    selectionSet: { ...operation.selectionSet, selections: fields },
  };
  return { kind: "Document" as Kind.DOCUMENT, definitions: [batch] };
}

/** [{id: "a"}, {id: "b"}] -> {id_0: "a", id_1: "b"}: the variables for batchDocument's copies. */
export function batchVariables(items: readonly Record<string, unknown>[]): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  items.forEach((item, index) => {
    for (const [name, value] of Object.entries(item)) variables[variableOf(name, index)] = value;
  });
  return variables;
}

export interface BulkOutcome {
  id: string;
  ok: boolean;
  /** Why it failed (absent when it worked). */
  message?: string;
}

interface GraphQLProblem {
  message: string;
  path?: readonly (string | number)[] | undefined;
}

interface BatchAnswer {
  data?: Record<string, unknown> | null | undefined;
  error?: { message: string; graphQLErrors?: readonly GraphQLProblem[] } | undefined;
}

/** Each id's outcome: its alias's typed result, a GraphQL error on its path, or the request's own failure. */
export function batchOutcomes(ids: readonly string[], answer: BatchAnswer): BulkOutcome[] {
  const errors = answer.error?.graphQLErrors ?? [];
  const whole = errors.find((error) => !error.path?.length)?.message;
  return ids.map((id, index) => {
    const alias = aliasOf(index);
    const result = answer.data?.[alias] as Parameters<typeof problemOf>[0] | undefined;
    if (result) {
      const problem = problemOf(result);
      if (!problem) return { id, ok: true };
      const detail = Object.entries(problem.fields).map(([field, message]) => `${field} ${message}`);
      return { id, ok: false, message: detail.length ? `${problem.message}: ${detail.join("; ")}` : problem.message };
    }
    const own = errors.find((error) => error.path?.[0] === alias)?.message;
    const fallback = answer.error ? answer.error.message.replace(/^\[(Network|GraphQL)\]\s*/, "") : "no answer";
    return { id, ok: false, message: own ?? whole ?? fallback };
  });
}

export interface BulkSummary {
  /** All went through. */
  ok: boolean;
  /** One sentence for the notice: "Published 3 programs." / "Published 2 of 3 programs; 1 failed." */
  text: string;
  /** One line per failure: "“Title”: message". */
  failures: string[];
}

/** The outcomes as a notice. `verb` is past tense ("Published"); `noun` singular and plural. */
export function summariseBulk(
  outcomes: readonly BulkOutcome[],
  verb: string,
  noun: [string, string],
  titleOf: (id: string) => string,
): BulkSummary {
  const total = outcomes.length;
  const failed = outcomes.filter((outcome) => !outcome.ok);
  const done = total - failed.length;
  const name = (count: number) => `${count} ${count === 1 ? noun[0] : noun[1]}`;
  const failures = failed.map((outcome) => `“${titleOf(outcome.id)}”: ${outcome.message ?? "failed"}`);
  if (failed.length === 0) return { ok: true, text: `${verb} ${name(total)}.`, failures };
  if (done === 0) return { ok: false, text: `Nothing ${verb.toLowerCase()}; ${name(total)} failed.`, failures };
  return { ok: false, text: `${verb} ${done} of ${name(total)}; ${failed.length} failed.`, failures };
}
