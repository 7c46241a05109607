// A session's status as a coloured badge (the word is always there: colour is never the only cue).
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status.toLowerCase().replace(/[^a-z_]/g, "")}`}>{status}</span>;
}
