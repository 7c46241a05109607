// The dashboard's sessions rows: events that arrive while a read is in flight are not hidden by
// the read's older answer (a session created in another tab, a reconnect's list read).
import type { EventName, WafleetEvent } from "../../lib/events";
import { SessionRows, type SessionRow } from "../../ui/src/live/session-rows";

type Session = SessionRow;
type LiveEvent = { [N in EventName]: WafleetEvent<N> }[EventName];

const session = (sessionId: string, status: string, node = "n1"): Session => ({ sessionId, status, node, me: null, reason: null });
const status = (sessionId: string, s: string, node = "n1"): LiveEvent => ({ event: "wa.session.status", sessionId, workspaceId: "acme", status: s, node }) as unknown as LiveEvent;
const ready = (sessionId: string, node = "n1"): LiveEvent => ({ event: "wa.session.ready", sessionId, workspaceId: "acme", node, me: { id: "15550001111@c.us" } }) as unknown as LiveEvent;
const statuses = (rows: SessionRows<Session>) => Object.fromEntries(rows.sorted().map((s) => [s.sessionId, s.status]));

describe("the dashboard's session rows", () => {
  it("applies events to known rows and asks to read a session it does not know, once", () => {
    const rows = new SessionRows<Session>();
    rows.listAnswered(rows.listStarted(), [session("a", "STARTING")]);
    expect(rows.apply([status("a", "SCAN_QR_CODE"), status("b", "STARTING"), status("b", "SCAN_QR_CODE")])).toEqual(["b"]);
    expect(statuses(rows)).toEqual({ a: "SCAN_QR_CODE" });
    expect(rows.readStarted("b")).toBe(true);
    expect(rows.readStarted("b")).toBe(false);
  });

  it("keeps the events that arrive while a new session is read and applies them on top of an older answer", () => {
    const rows = new SessionRows<Session>();
    rows.listAnswered(rows.listStarted(), []);
    const [id] = rows.apply([status("new", "STARTING")]);
    rows.readStarted(id);
    // the session links while its read is in flight; none of these may be dropped or asked again
    expect(rows.apply([status("new", "SCAN_QR_CODE"), ready("new", "n2")])).toEqual([]);
    // the read was answered from a state before those events
    rows.readAnswered(session("new", "STARTING"));
    expect(rows.sorted()[0]).toMatchObject({ status: "WORKING", node: "n2", me: { id: "15550001111@c.us" } });
  });

  it("a read answered after the events it already reflects stays as it is", () => {
    const rows = new SessionRows<Session>();
    rows.listAnswered(rows.listStarted(), []);
    rows.readStarted("s");
    rows.apply([status("s", "SCAN_QR_CODE")]);
    rows.readAnswered({ ...session("s", "SCAN_QR_CODE"), me: null });
    expect(statuses(rows)).toEqual({ s: "SCAN_QR_CODE" });
  });

  it("applies the events that came during a list read on top of the list's answer", () => {
    const rows = new SessionRows<Session>();
    const first = rows.listStarted();
    rows.listAnswered(first, [session("a", "STARTING"), session("b", "WORKING")]);
    const second = rows.listStarted(); // a reconnect reads the list again
    rows.apply([ready("a"), status("b", "STOPPED")]);
    rows.listAnswered(second, [session("a", "STARTING"), session("b", "WORKING")]);
    expect(statuses(rows)).toEqual({ a: "WORKING", b: "STOPPED" });
    // once answered, later events are not replayed by a later list
    const third = rows.listStarted();
    rows.listAnswered(third, [session("a", "FAILED"), session("b", "STOPPED")]);
    expect(statuses(rows)).toEqual({ a: "FAILED", b: "STOPPED" });
  });

  it("a failed read lets the session be read again", () => {
    const rows = new SessionRows<Session>();
    rows.readStarted("x");
    rows.readFailed("x");
    expect(rows.readStarted("x")).toBe(true);
  });
});
