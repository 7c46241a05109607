// The rows of a workspace's sessions page as plain state, kept current from a list read, single
// reads of sessions created elsewhere, and wa.* events. Events that arrive while a read is in
// flight are kept and applied again on top of its answer, in order: an answer computed before them
// would otherwise hide them (they carry whole states, so applying one the answer already reflects
// changes nothing).
// It imports no browser module (only types from lib/events), so unit tests run it under Node.
import type { EventName, WafleetEvent } from "../../../lib/events";

type LiveEvent = { [N in EventName]: WafleetEvent<N> }[EventName];

/** What this module reads and writes of a row (the API's Session, which has more). */
export interface SessionRow {
  sessionId: string;
  status: string;
  node?: string | null;
  reason?: string | null;
  me?: unknown;
}

/** Applies one event to a session row; returns false when the row is unknown. */
export function applyEvent<S extends SessionRow>(map: Map<string, S>, e: LiveEvent): boolean {
  const s = map.get(e.sessionId);
  if (!s) return false;
  switch (e.event) {
    case "wa.session.status":
      map.set(e.sessionId, { ...s, status: e.status, node: e.node, reason: e.reason ?? null, me: e.status === "SCAN_QR_CODE" ? null : s.me });
      break;
    case "wa.session.ready":
      map.set(e.sessionId, { ...s, status: "WORKING", node: e.node, me: e.me });
      break;
    case "wa.session.qr":
      if (s.status !== "SCAN_QR_CODE") map.set(e.sessionId, { ...s, status: "SCAN_QR_CODE", node: e.node });
      break;
    default:
      if (s.node !== e.node) map.set(e.sessionId, { ...s, node: e.node });
  }
  return true;
}

export class SessionRows<S extends SessionRow> {
  private map = new Map<string, S>();
  /** Ss being read one by one, with the events that arrived for each meanwhile. */
  private reading = new Map<string, LiveEvent[]>();
  /** Events that arrived while the whole list was being read. */
  private duringList?: LiveEvent[];

  /** The rows sorted by session id. */
  sorted(): S[] {
    return [...this.map.values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
  }

  /** A list read starts: returns the token its answer (or failure) is given back with. */
  listStarted(): object {
    const token: LiveEvent[] = [];
    this.duringList = token;
    return token;
  }

  /** The list read answered: it replaces the rows, then the events that came meanwhile apply again. */
  listAnswered(token: object, list: S[]): void {
    this.map = new Map(list.map((s) => [s.sessionId, s]));
    for (const e of token as LiveEvent[]) applyEvent(this.map, e);
    this.listEnded(token);
  }

  listEnded(token: object): void {
    if (this.duringList === token) this.duringList = undefined;
  }

  /**
   * Applies events in order. Returns the ids of sessions the rows do not know that a wa.session.*
   * event named (created elsewhere): the caller reads each once, between readStarted and readAnswered.
   */
  apply(events: LiveEvent[]): string[] {
    const unknown = new Set<string>();
    for (const e of events) {
      this.duringList?.push(e);
      const pending = this.reading.get(e.sessionId);
      if (pending) pending.push(e);
      else if (!applyEvent(this.map, e) && e.event.startsWith("wa.session.")) unknown.add(e.sessionId);
    }
    return [...unknown];
  }

  /** False when a read of this session is already in flight. */
  readStarted(sessionId: string): boolean {
    if (this.reading.has(sessionId)) return false;
    this.reading.set(sessionId, []);
    return true;
  }

  readAnswered(s: S): void {
    const meanwhile = this.reading.get(s.sessionId) ?? [];
    this.reading.delete(s.sessionId);
    this.map.set(s.sessionId, s);
    for (const e of meanwhile) applyEvent(this.map, e);
  }

  readFailed(sessionId: string): void {
    this.reading.delete(sessionId);
  }

  upsert(s: S): void {
    this.map.set(s.sessionId, s);
  }

  remove(sessionId: string): void {
    this.map.delete(sessionId);
  }
}
