// Where a request's time went, for a client that asks: with `X-Wafleet-Timing: 1` on an admin
// key's request, the answer carries `X-Wafleet-Timing`, the monotonic stamps (microseconds of
// CLOCK_MONOTONIC, one clock for every process of a machine) of the gateway's stages and of the
// owner's, which it returns in the call's meta. A benchmark on one machine subtracts them from each
// other and from its own stamps: the hops of a send (bench/scale.ts). Nothing is stamped, kept or
// logged for a request that does not ask.
import type { IncomingMessage } from "node:http";

export const TIMING_HEADER = "x-wafleet-timing";

/** Now, in microseconds of the monotonic clock every process of the machine shares. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

const stamps = new WeakMap<IncomingMessage, Record<string, number>>();

/** The request arrived (its headers parsed): stamps it from here on if it asks. */
export function startTiming(req: IncomingMessage): void {
  if (req.headers[TIMING_HEADER] !== undefined) stamps.set(req, { g0: monotonicUs() });
}

/** Whether the request's stages are stamped. */
export function timed(req: IncomingMessage): boolean {
  return stamps.has(req);
}

/** Stamps a stage of a timed request (no-op otherwise). */
export function stamp(req: IncomingMessage, name: string): void {
  const s = stamps.get(req);
  if (s) s[name] = monotonicUs();
}

/** Adds another process's stamps (the owner's, from the call's meta): numbers only, short names. */
export function addStamps(req: IncomingMessage, more: unknown): void {
  const s = stamps.get(req);
  if (!s || typeof more !== "object" || more === null) return;
  for (const [k, v] of Object.entries(more)) if (/^[a-z]\w{0,7}$/.test(k) && typeof v === "number" && Number.isFinite(v)) s[k] = v;
}

/** The header's value (`g0=123;g1=130;...`) for an admin's timed request, else undefined. */
export function timingHeaderOf(req: IncomingMessage, admin: boolean): string | undefined {
  const s = stamps.get(req);
  if (!s || !admin) return undefined;
  return Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(";");
}

/** Parses a header written by timingHeaderOf. */
export function parseTimingHeader(value: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (value ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq)] = Number(part.slice(eq + 1));
  }
  return out;
}
