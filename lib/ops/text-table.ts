// Plain-text tables for the operators' console (the REPL commands): aligned columns, a header rule,
// numbers right-aligned. No colours, so what a test captures is what an operator reads.

export type Cell = string | number | boolean | null | undefined;

export interface TextTableOptions {
  /** Columns whose cells are right-aligned (counts, sizes, percentages). */
  right?: number[];
}

function show(c: Cell): string {
  if (c === null || c === undefined || c === "") return "-";
  return String(c);
}

/** Renders rows under a header; an empty body prints the header and "(none)". */
export function renderTable(header: string[], rows: Cell[][], opts: TextTableOptions = {}): string {
  const body = rows.map((r) => header.map((_, i) => show(r[i])));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const right = new Set(opts.right ?? []);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  ")];
  if (!body.length) out.push("(none)");
  for (const r of body) out.push(line(r));
  return out.join("\n");
}

/** 0.8123 -> "81.2%". */
export function percent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "-";
  return `${(ratio * 100).toFixed(1)}%`;
}

/** Bytes in the unit an operator reads at a glance. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

/** Milliseconds as "850 ms", "4.2 s", "3 min". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
