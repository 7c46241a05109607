import { canTransition, InvalidTransitionError, SESSION_STATUSES, StatusMachine, type SessionStatus } from "../../lib/sessions/status";

describe("session status machine", () => {
  it("starts STOPPED and reports each change once with the previous status", () => {
    const seen: Array<[SessionStatus, SessionStatus, string | undefined]> = [];
    const m = new StatusMachine((s, p, r) => seen.push([s, p, r]));
    expect(m.status).toBe("STOPPED");
    m.transition("STARTING");
    m.transition("SCAN_QR_CODE");
    expect(m.transition("SCAN_QR_CODE")).toBe(false); // QR rotation is not a status change
    m.transition("STARTING", "authenticated");
    m.transition("WORKING");
    expect(seen).toEqual([
      ["STARTING", "STOPPED", undefined],
      ["SCAN_QR_CODE", "STARTING", undefined],
      ["STARTING", "SCAN_QR_CODE", "authenticated"],
      ["WORKING", "STARTING", undefined],
    ]);
  });

  it("refuses to jump from STOPPED straight to WORKING or SCAN_QR_CODE", () => {
    const m = new StatusMachine(() => undefined);
    expect(() => m.transition("WORKING")).toThrow(InvalidTransitionError);
    expect(() => m.transition("SCAN_QR_CODE")).toThrow(InvalidTransitionError);
    expect(() => m.transition("FAILED")).toThrow(InvalidTransitionError);
    expect(m.status).toBe("STOPPED");
  });

  it("lets every status stop, and a failed session start again", () => {
    for (const s of SESSION_STATUSES) expect(canTransition(s, "STOPPED")).toBe(true);
    expect(canTransition("FAILED", "STARTING")).toBe(true);
    expect(canTransition("FAILED", "WORKING")).toBe(false);
  });

  it("keeps the reason of the last change", () => {
    const m = new StatusMachine(() => undefined);
    m.transition("STARTING");
    m.transition("FAILED", "CONFLICT");
    expect(m.reason).toBe("CONFLICT");
    m.transition("STARTING");
    expect(m.reason).toBeUndefined();
  });

  it("models a lost connection and a phone-side logout from WORKING", () => {
    expect(canTransition("WORKING", "STARTING")).toBe(true);
    expect(canTransition("WORKING", "SCAN_QR_CODE")).toBe(true);
    expect(canTransition("WORKING", "FAILED")).toBe(true);
  });
});
