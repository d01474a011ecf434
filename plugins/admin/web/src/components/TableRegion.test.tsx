import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { TableRegion } from "./TableRegion";

afterEach(cleanup);

describe("TableRegion", () => {
  it("names the region and captions the table, with column headings as given", () => {
    render(
      <TableRegion label="Jobs" columns={["Kind", { label: "Attempts", number: true }, { label: "Actions", hidden: true }]}>
        <tr>
          <td>a</td>
        </tr>
      </TableRegion>,
    );
    expect(screen.getByRole("region", { name: "Jobs" })).toBeTruthy();
    expect(screen.getByRole("table", { name: "Jobs" })).toBeTruthy();
    const headings = screen.getAllByRole("columnheader");
    expect(headings.map((cell) => cell.textContent)).toEqual(["Kind", "Attempts", "Actions"]);
    expect(headings[1]?.className).toBe("number");
    expect(headings[2]?.querySelector(".visually-hidden")).not.toBeNull();
  });
});
