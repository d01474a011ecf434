// A wide table in a region that scrolls sideways on narrow screens, reachable (and scrollable) by keyboard.
import type { ReactNode } from "react";

/** A column's heading: its text, or with `number` (figures, aligned) or `hidden` (named for screen readers only). */
export type ColumnHeading = string | { label: string; number?: boolean; hidden?: boolean };

export function TableHead({ columns }: { columns: readonly ColumnHeading[] }) {
  return (
    <thead>
      <tr>
        {columns.map((column) => {
          const { label, number = false, hidden = false } = typeof column === "string" ? { label: column } : column;
          return (
            <th key={label} scope="col" className={number ? "number" : undefined}>
              {hidden ? <span className="visually-hidden">{label}</span> : label}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}

interface TableRegionProps {
  /** The region's name, and the table's (hidden) caption unless `caption` is given. */
  label: string;
  caption?: string;
  className?: string;
  columns: readonly ColumnHeading[];
  /** The body's rows. */
  children: ReactNode;
}

export function TableRegion({ label, caption = label, className, columns, children }: TableRegionProps) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table className={className}>
        <caption className="visually-hidden">{caption}</caption>
        <TableHead columns={columns} />
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
