// Paged lists: only one page of rows is in the DOM, so a workspace with thousands of sessions (or a
// cluster with thousands of workspaces) stays quick, and every row is reachable with the keyboard.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

export function usePage<T>(items: T[], pageSize: number, resetKey: unknown): { page: number; pages: number; rows: T[]; setPage(p: number): void } {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  useEffect(() => setPage(0), [resetKey]);
  const current = Math.min(page, pages - 1);
  return { page: current, pages, rows: items.slice(current * pageSize, (current + 1) * pageSize), setPage };
}

export function PagerNav({ label, singular, page, pages, total, setPage }: { label: string; singular?: string; page: number; pages: number; total: number; setPage(p: number): void }): ComponentChildren {
  if (pages <= 1) return <p class="muted small">{total === 1 ? `1 ${singular ?? label.replace(/s$/, "")}` : `${total} ${label}`}</p>;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={() => setPage(0)} disabled={page === 0} aria-label="First page">
        «
      </button>
      <button type="button" onClick={() => setPage(page - 1)} disabled={page === 0}>
        Previous
      </button>
      <span aria-live="polite">
        Page {page + 1} of {pages} ({total} {label})
      </span>
      <button type="button" onClick={() => setPage(page + 1)} disabled={page >= pages - 1}>
        Next
      </button>
      <button type="button" onClick={() => setPage(pages - 1)} disabled={page >= pages - 1} aria-label="Last page">
        »
      </button>
    </nav>
  );
}
