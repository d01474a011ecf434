// A program's or episode's page: loading it, its heading, opening it after a create, and deleting it.
import { useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useMutation, type CombinedError, type DocumentInput } from "urql";
import { capitalised } from "../../lib/format";
import { transportMessage, type FieldError } from "../../lib/results";
import { ConfirmButton } from "../ConfirmButton";
import { Notice } from "../Notice";
import { answerProblem, mutationProblem, useArrivalFocus, useArrivalNotice } from "./FormParts";

export type ContentNoun = "program" | "episode";

interface LoadedItemProps<T> {
  noun: ContentNoun;
  result: { data?: unknown; error?: CombinedError | undefined; fetching: boolean };
  /** The item in the answer: null when there is none with the id (or the viewer may not see it). */
  item: T | null | undefined;
  children: (item: T) => ReactNode;
}

/** An item's page while it loads: the load error, "Loading…", or "not found" with the way back to its list. */
export function LoadedItem<T>({ noun, result, item, children }: LoadedItemProps<T>) {
  if (result.error && !result.data) {
    return (
      <Notice kind="error">
        Could not load the {noun}: {transportMessage(result.error)}
      </Notice>
    );
  }
  if (!result.data) return result.fetching ? <p role="status">Loading…</p> : null;
  if (!item) {
    return (
      <>
        <h1>{capitalised(noun)} not found</h1>
        <Notice kind="error">No {noun} has this id, or you may not see it.</Notice>
        <Link to={`/${noun}s`}>Back to {noun}s</Link>
      </>
    );
  }
  return children(item);
}

/** The item's title as the page's h1 (focused when the page was sent here with a notice), and that notice. */
export function ItemHeading({ title }: { title: string }) {
  const arrived = useArrivalNotice();
  const heading = useArrivalFocus<HTMLHeadingElement>(arrived);
  return (
    <>
      <h1 dir="auto" ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
    </>
  );
}

type CreateResult = { __typename?: string; id?: string; title?: string; message?: string; fields?: readonly FieldError[] };

/** After a create: the new item's page opens with a notice; otherwise the answer's problem. */
export function useOpenCreated(noun: ContentNoun) {
  const navigate = useNavigate();
  return (answer: { error?: CombinedError | undefined }, result: CreateResult | null | undefined) => {
    if (result?.__typename === capitalised(noun) && result.id !== undefined) {
      navigate(`/${noun}s/${encodeURIComponent(result.id)}`, {
        state: { notice: `${capitalised(noun)} “${result.title}” created.` },
      });
    }
    return answerProblem(answer, result);
  };
}

interface DeleteItemProps {
  noun: ContentNoun;
  item: { id: string; title: string };
  question: string;
  /** The delete mutation: its one result is Deleted or an Error. */
  mutation: DocumentInput<object, { id: string }>;
}

/** Delete, after a question; then back to the list, which says what went. */
export function DeleteItem({ noun, item, question, mutation }: DeleteItemProps) {
  const navigate = useNavigate();
  const [deleting, deleteItem] = useMutation(mutation);
  const [problem, setProblem] = useState<string | null>(null);
  const onDelete = async () => {
    setProblem(null);
    const found = mutationProblem(await deleteItem({ id: item.id }));
    if (found) return setProblem(found.message);
    navigate(`/${noun}s`, { state: { notice: `${capitalised(noun)} “${item.title}” deleted.` } });
  };
  return (
    <section className="danger-zone" aria-label={`Delete ${noun}`}>
      <ConfirmButton label="Delete" question={question} confirmLabel="Delete" disabled={deleting.fetching} onConfirm={onDelete} />
      {problem ? (
        <Notice kind="error">
          Could not delete the {noun}: {problem}
        </Notice>
      ) : null}
    </section>
  );
}
