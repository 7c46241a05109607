// Pacing per number: given a session's policy and what it already sent, the earliest moment the
// next message may go. Pure functions of the clock, so the drain is tested with a fake one.
import type { OutboxPolicy } from "./types";

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;

/** Minutes since local midnight in `timeZone`, and the epoch ms of that midnight. */
export function localClock(now: number, timeZone: string): { minutes: number; midnight: number } {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(now));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const seconds = get("hour") * 3600 + get("minute") * 60 + get("second");
  const midnight = now - seconds * 1000 - (now % 1000);
  return { minutes: Math.floor(seconds / 60), midnight };
}

/** Whether `timeZone` is one Intl knows (policy validation). */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone });
    return true;
  } catch {
    return false;
  }
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** When quiet hours hold at `now`, the epoch ms they end; else undefined. */
export function quietUntil(now: number, q: OutboxPolicy["quietHours"]): number | undefined {
  if (!q) return undefined;
  const from = toMinutes(q.from);
  const to = toMinutes(q.to);
  if (from === to) return undefined;
  const { minutes } = localClock(now, q.timeZone);
  const inside = from < to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
  if (!inside) return undefined;
  const left = (to - minutes + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES;
  // to the start of the minute `to` (local), plus a second so the check after waking is outside
  return now - (now % MINUTE) + left * MINUTE + 1000;
}

/** The time zone a day (for the daily cap) is counted in. */
export function dayZone(policy: OutboxPolicy): string {
  return policy.quietHours?.timeZone ?? "UTC";
}

export interface PaceState {
  /** Epoch ms of the last send started (from the journal, so it survives a failover). */
  lastSentAt?: number;
  /** Send times within the last 24 h (for the daily cap). */
  sentTimes: number[];
}

/**
 * The earliest time the next message may go: not before the gap after the last send (plus this
 * item's jitter), not in quiet hours, not past the daily cap (then: the next local midnight).
 */
export function nextSendAt(now: number, policy: OutboxPolicy, state: PaceState, jitter: number, notBefore = 0): number {
  let at = Math.max(now, notBefore);
  if (state.lastSentAt !== undefined) at = Math.max(at, state.lastSentAt + Math.ceil(MINUTE / policy.perMinute) + jitter);
  if (policy.dailyCap !== null) {
    const { midnight } = localClock(at, dayZone(policy));
    const today = state.sentTimes.filter((t) => t >= midnight).length;
    if (today >= policy.dailyCap) at = midnight + DAY_MINUTES * MINUTE + 1000;
  }
  const quiet = quietUntil(at, policy.quietHours);
  if (quiet !== undefined) at = quiet;
  return at;
}
