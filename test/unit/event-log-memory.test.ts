// The memory event log of embedded mode refuses what the JetStream log would: an event over its
// size limit (measured encoded) is rejected at append, recorded, and never delays the others.
import { makeEvent, type WafleetEvent } from "../../lib/events";
import { encodeEvent, type RejectedEvent } from "../../lib/events/log";
import { MemoryEventLog } from "../../lib/events/log-memory";

const ev = (body: string): WafleetEvent<"wa.message.received"> => makeEvent("wa.message.received", { workspaceId: "acme", sessionId: "main", node: "n1" }, { message: { id: body.slice(0, 8), from: "1@c.us", to: "2@c.us", body, timestamp: 1, fromMe: false } });

describe("MemoryEventLog limits", () => {
  it("refuses an event over maxEventBytes with EVENT_TOO_LARGE and delivers the ones around it", async () => {
    const rejected: RejectedEvent[] = [];
    const warnings: string[] = [];
    const log = new MemoryEventLog({ maxEventBytes: 8 * 1024, onRejected: (r) => rejected.push(r), logger: { warn: (m) => warnings.push(m) } });
    const got: string[] = [];
    await log.consume({ name: "hooks", maxDeliver: 3, backoffMs: [10], concurrency: 4 }, async (m) => {
      got.push((m.event as WafleetEvent<"wa.message.received">).message.body);
      m.ack();
    });
    await log.append(ev("before"));
    const big = ev("é".repeat(4 * 1024)); // 4 Ki characters, 8 KiB in UTF-8: measured encoded
    await expect(log.append(big)).rejects.toMatchObject({ type: "EVENT_TOO_LARGE", data: { id: big.id, event: "wa.message.received", size: encodeEvent(big).byteLength, limit: 8 * 1024 } });
    await log.append(ev("after"));
    expect(got).toEqual(["before", "after"]);
    expect(rejected).toEqual([{ id: big.id, event: "wa.message.received", workspaceId: "acme", sessionId: "main", size: encodeEvent(big).byteLength, limit: 8 * 1024 }]);
    expect(warnings.join("\n")).toMatch(/refused wa\.message\.received .* \d+ bytes encoded, the limit is 8192/);
    expect(await log.depth("hooks")).toBe(0);
    await log.close();
  });

  it("accepts an event of exactly the limit", async () => {
    const probe = ev("");
    const room = 4096 - encodeEvent(probe).byteLength;
    const exact = { ...probe, message: { ...probe.message, body: "a".repeat(room) } } as WafleetEvent;
    expect(encodeEvent(exact).byteLength).toBe(4096);
    const log = new MemoryEventLog({ maxEventBytes: 4096 });
    await expect(log.append(exact)).resolves.toBeUndefined();
    await expect(log.append({ ...exact, message: { ...probe.message, body: "a".repeat(room + 1) } } as WafleetEvent)).rejects.toMatchObject({ type: "EVENT_TOO_LARGE" });
    await log.close();
  });
});
