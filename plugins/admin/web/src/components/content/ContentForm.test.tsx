import { act, renderHook } from "@testing-library/react";
import type { FormEvent } from "react";
import { describe, expect, it, vi } from "vitest";
import { useContentForm } from "./ContentForm";
import { markedFields } from "./FormParts";

const submitEvent = () => ({ preventDefault: vi.fn() }) as unknown as FormEvent;

describe("useContentForm", () => {
  it("keeps what was typed, shows a save's problem and clears it on the next try", async () => {
    const { result } = renderHook(() => useContentForm({ title: "Old", slug: "" }));
    act(() => result.current.onChange("title", "New"));
    expect(result.current.values).toEqual({ title: "New", slug: "" });
    expect(result.current.initial).toEqual({ title: "Old", slug: "" });
    await act(() => result.current.submitWith(async () => markedFields({ slug: "bad" }))(submitEvent()));
    expect(result.current.problem).toEqual({ message: "check the marked fields", fields: { slug: "bad" } });
    expect(result.current.values.title).toBe("New");
    await act(() => result.current.submitWith(async () => result.current.unchanged())(submitEvent()));
    expect(result.current.problem).toBeNull();
    expect(result.current.saved).toBe("No changes to save.");
  });

  it("starts from what was saved, and a change clears the saved message", async () => {
    const { result } = renderHook(() => useContentForm({ title: "Old", slug: "" }));
    await act(() =>
      result.current.submitWith(async () => {
        result.current.savedAs({ title: "Saved", slug: "saved" });
        return null;
      })(submitEvent()),
    );
    expect(result.current.values).toEqual({ title: "Saved", slug: "saved" });
    expect(result.current.initial).toEqual({ title: "Saved", slug: "saved" });
    expect(result.current.saved).toBe("Changes saved.");
    act(() => result.current.onChange("slug", "x"));
    expect(result.current.saved).toBeNull();
  });
});
