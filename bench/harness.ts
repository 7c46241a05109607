// Shared pieces of the benchmarks: the figure shape, small statistics helpers, process CPU.
import { readFileSync } from "node:fs";

/** One JSON line: a measured value beside its baseline from the same run, and their ratio. */
export interface Figure {
  figure: string;
  unit: string;
  value: number;
  baseline?: { name: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  [extra: string]: unknown;
}

export interface BenchContext {
  emit(figure: Figure): void;
  args: string[];
}

export interface BenchModule {
  default(ctx: BenchContext): Promise<void>;
}

export function figure(name: string, unit: string, value: number, baseline?: { name: string; value: number }, extra: Record<string, unknown> = {}): Figure {
  const f: Figure = { figure: name, unit, value: round(value), ...extra };
  if (baseline) {
    f.baseline = { name: baseline.name, value: round(baseline.value) };
    f.ratio = baseline.value === 0 ? Number.POSITIVE_INFINITY : round(value / baseline.value, 3);
  }
  return f;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]): { n: number; p50: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

/** A named integer option from argv: `--sessions 300` or `--sessions=300`. */
export function intArg(args: string[], name: string, fallback: number): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}` && args[i + 1]) return Number.parseInt(args[i + 1]!, 10);
    if (a.startsWith(`--${name}=`)) return Number.parseInt(a.slice(name.length + 3), 10);
  }
  return fallback;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on Linux). */
export const CLK_TCK = 100;

/** User + system CPU of a process so far, in clock ticks (/proc/<pid>/stat); 0 once it is gone. */
export function cpuTicksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function round(v: number, digits = 2): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}
