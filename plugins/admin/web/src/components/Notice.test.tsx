import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { OutcomeNotice } from "./Notice";

afterEach(cleanup);

describe("OutcomeNotice", () => {
  it("tells a success politely and a failure as an alert", () => {
    const { rerender } = render(<OutcomeNotice outcome={{ ok: true, message: "Queued again." }} />);
    expect(screen.getByRole("status").textContent).toBe("Queued again.");
    expect(screen.queryByRole("alert")).toBeNull();
    rerender(<OutcomeNotice outcome={{ ok: false, message: "Not retried." }} />);
    expect(screen.getByRole("alert").textContent).toBe("Not retried.");
    expect(screen.getByRole("status").textContent).toBe("");
  });
});
