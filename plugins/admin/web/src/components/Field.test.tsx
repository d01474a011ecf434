import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CheckField } from "../pages/sources/CheckField";
import { SelectField } from "./Field";

afterEach(cleanup);

const describedBy = (element: HTMLElement) =>
  (element.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .map((id) => document.getElementById(id)?.textContent);

describe("field ids", () => {
  it("describe a checkbox by its context, hint and error, in that order", () => {
    render(<CheckField label="Remove" checked={false} onChange={() => {}} context="the token" hint="Clears it" error="not allowed" />);
    const box = screen.getByRole("checkbox", { name: "Remove" });
    expect(describedBy(box)).toEqual(["the token", "Clears it", "not allowed"]);
    expect(box.getAttribute("aria-invalid")).toBe("true");
  });

  it("leave out what is not there", () => {
    render(<CheckField label="Enabled" checked onChange={() => {}} />);
    expect(screen.getByRole("checkbox", { name: "Enabled" }).hasAttribute("aria-describedby")).toBe(false);
  });
});

describe("SelectField", () => {
  it("offers its choices under its label and reports the one picked", () => {
    const onChange = vi.fn();
    const choices = [
      { value: "ASC", label: "Ascending" },
      { value: "DESC", label: "Descending" },
    ];
    render(<SelectField label="Direction" value="DESC" choices={choices} onChange={onChange} hint="Newest first" />);
    const select = screen.getByRole<HTMLSelectElement>("combobox", { name: "Direction" });
    expect([...select.options].map((option) => option.text)).toEqual(["Ascending", "Descending"]);
    expect(describedBy(select)).toEqual(["Newest first"]);
    fireEvent.change(select, { target: { value: "ASC" } });
    expect(onChange).toHaveBeenCalledWith("ASC");
  });
});
