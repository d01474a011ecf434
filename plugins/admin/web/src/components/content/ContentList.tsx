// The program and episode lists' page: the heading with its "New" link, and the table of rows with its count,
// bulk bar (editors), selection, sort marks and pager.
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import type { DocumentNode } from "graphql";
import { capitalised } from "../../lib/format";
import { countSentence, type ListState } from "../../lib/listState";
import { transportMessage } from "../../lib/results";
import { Notice } from "../Notice";
import { Pager } from "../Pager";
import { useArrivalFocus, useArrivalNotice } from "./FormParts";
import { BulkBar, SelectAll, useSelection } from "./ListControls";
import type { ContentList } from "./useContentList";

/** The list's h1 (focused when the page was sent here with a notice) and the link to make a new item. */
export function ListHeading({ title, add }: { title: string; add: { to: string; label: string } | null }) {
  const arrived = useArrivalNotice();
  const heading = useArrivalFocus<HTMLHeadingElement>(arrived);
  return (
    <>
      <div className="page-head">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {add ? (
          <Link className="button primary" to={add.to}>
            {add.label}
          </Link>
        ) : null}
      </div>
      {arrived ? <Notice kind="success">{arrived}</Notice> : null}
    </>
  );
}

export interface Column<F extends string> {
  label: string;
  /** The sort field this column is ordered by (aria-sort says so). */
  sort?: F;
}

interface ContentTableProps<F extends string, Row extends { id: string; title: string }> {
  /** ["program", "programs"]: the rows link to /programs/:id. */
  noun: [string, string];
  list: ContentList<Row>;
  state: ListState<F>;
  onState: (next: ListState<F>) => void;
  /** Editors tick rows and publish or unpublish them in bulk. */
  canEdit: boolean;
  publish: DocumentNode;
  unpublish: DocumentNode;
  /** The columns after Title (sorted by TITLE), and their cells for a row. */
  columns: readonly Column<F>[];
  cells: (row: Row) => ReactNode;
}

export function ContentTable<F extends string, Row extends { id: string; title: string }>(props: ContentTableProps<F, Row>) {
  const { noun, list, state, canEdit, columns } = props;
  const { rows, total, searching } = list;
  const selection = useSelection(rows.map((row) => row.id));
  const titleOf = (id: string) => rows.find((row) => row.id === id)?.title ?? id;
  const sortedBy = (field: string | undefined) =>
    !searching && field !== undefined && state.sort === field ? (state.dir === "ASC" ? "ascending" : "descending") : undefined;
  const [one, many] = noun;
  return (
    <>
      {list.error ? (
        <Notice kind="error">
          Could not load {many}: {transportMessage(list.error)}
        </Notice>
      ) : null}
      <p className="list-count" aria-live="polite">
        {total === null
          ? list.fetching
            ? "Loading…"
            : ""
          : countSentence({ total, exact: list.exact, searching, page: state.cursors.length, noun })}
      </p>
      {canEdit ? (
        <BulkBar
          selected={selection.selected}
          publish={props.publish}
          unpublish={props.unpublish}
          noun={noun}
          titleOf={titleOf}
          onSettled={selection.keep}
        />
      ) : null}
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{capitalised(many)}</caption>
          <thead>
            <tr>
              {canEdit ? (
                <th scope="col" className="select-col">
                  <SelectAll all={selection.all} some={selection.some} onToggle={selection.toggleAll} />
                </th>
              ) : null}
              {[{ label: "Title", sort: "TITLE" }, ...columns].map((column) => (
                <th key={column.label} scope="col" aria-sort={sortedBy(column.sort)}>
                  {column.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id}>
                {canEdit ? (
                  <td className="select-col">
                    <input
                      type="checkbox"
                      aria-label={`Select ${row.title}`}
                      checked={selection.has(row.id)}
                      onChange={() => selection.toggle(row.id)}
                    />
                  </td>
                ) : null}
                <td dir="auto">
                  <Link to={`/${many}/${encodeURIComponent(row.id)}`}>{row.title}</Link>
                </td>
                {props.cells(row)}
              </tr>
            ))}
            {rows.length === 0 && total !== null ? (
              <tr>
                <td colSpan={columns.length + (canEdit ? 2 : 1)}>
                  {searching ? "Nothing matches the search." : `No ${many} match.`}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Pager
        label={`${capitalised(one)} pages`}
        cursors={state.cursors}
        pageInfo={list.pageInfo}
        onChange={(cursors) => props.onState({ ...state, cursors })}
      />
    </>
  );
}
