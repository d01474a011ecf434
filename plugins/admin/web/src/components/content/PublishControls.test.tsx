import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { localInputToUtc, utcToLocalInput } from "../../lib/schedule";
import { PublishControls, publishSentence } from "./PublishControls";

afterEach(cleanup);

const inputFor = (date: Date) => utcToLocalInput(date.toISOString());

describe("PublishControls", () => {
  it("schedules in the editor's time zone and sends UTC", async () => {
    const onPublish = vi.fn().mockResolvedValue(null);
    render(<PublishControls status="DRAFT" publishAt={null} onPublish={onPublish} onUnpublish={vi.fn()} />);
    const later = inputFor(new Date(Date.now() + 3 * 24 * 3600 * 1000));
    fireEvent.change(screen.getByLabelText("Publish at"), { target: { value: later } });
    fireEvent.click(screen.getByRole("button", { name: "Schedule" }));
    await waitFor(() => expect(onPublish).toHaveBeenCalledWith(localInputToUtc(later)));
    expect(await screen.findByText(/^Scheduled for /, { selector: "[role=status]" })).toBeTruthy();
  });

  it("refuses an empty or past time without asking the API", () => {
    const onPublish = vi.fn();
    render(<PublishControls status="DRAFT" publishAt={null} onPublish={onPublish} onUnpublish={vi.fn()} />);
    fireEvent.click(screen.getByRole("button", { name: "Schedule" }));
    expect(screen.getByText("Enter a date and time")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Publish at"), { target: { value: inputFor(new Date(Date.now() - 3600 * 1000)) } });
    fireEvent.click(screen.getByRole("button", { name: "Schedule" }));
    expect(screen.getByText("Choose a time in the future, or use Publish now")).toBeTruthy();
    expect(onPublish).not.toHaveBeenCalled();
  });

  it("publishes now with no time and reports the API's problem", async () => {
    const onPublish = vi.fn().mockResolvedValue({ message: "program not found", fields: {} });
    render(<PublishControls status="DRAFT" publishAt={null} onPublish={onPublish} onUnpublish={vi.fn()} />);
    expect(screen.queryByRole("button", { name: "Unpublish" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Publish now" }));
    expect(onPublish).toHaveBeenCalledWith(null);
    expect((await screen.findByRole("alert")).textContent).toBe("Could not change publishing: program not found");
  });

  it("offers unpublishing (not publishing again) for a live item", () => {
    render(<PublishControls status="PUBLISHED" publishAt="2020-01-01T00:00:00Z" onPublish={vi.fn()} onUnpublish={vi.fn()} />);
    expect(screen.getByRole("button", { name: "Unpublish" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Publish now" })).toBeNull();
  });

  it("shows viewers the state only", () => {
    render(<PublishControls status="PUBLISHED" publishAt="2020-01-01T00:00:00Z" onPublish={vi.fn()} onUnpublish={vi.fn()} readOnly />);
    expect(screen.queryAllByRole("button")).toEqual([]);
    expect(screen.queryByLabelText("Publish at")).toBeNull();
    expect(screen.getByText(/^Published /)).toBeTruthy();
  });
});

describe("publishSentence", () => {
  const now = new Date("2026-05-01T12:00:00Z");
  it("says what the public sees", () => {
    expect(publishSentence("DRAFT", null, now)).toBe("Draft: not published.");
    expect(publishSentence("ARCHIVED", null, now)).toBe("Archived: not public.");
    expect(publishSentence("PUBLISHED", "2026-06-01T00:00:00Z", now)).toMatch(/^Scheduled for .+ \(.+\)\.$/);
    expect(publishSentence("PUBLISHED", "2026-04-01T00:00:00Z", now)).toMatch(/^Published /);
  });
});
