// Inline messages: errors are announced at once (role=alert), successes politely (role=status).
import type { ComponentChildren } from "preact";

export function Notice({ kind, children, onClose }: { kind: "error" | "ok" | "info"; children: ComponentChildren; onClose?: () => void }) {
  return (
    <div class={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      <span>{children}</span>
      {onClose && (
        <button type="button" class="link" aria-label="Dismiss" onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}
