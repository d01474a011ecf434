import type { ReactNode } from "react";

/** A message for the whole page or form: errors interrupt (alert), the rest wait their turn (status). */
export function Notice({ kind = "info", children }: { kind?: "info" | "error" | "success"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
