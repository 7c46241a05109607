// The durable embedded event log and webhook store: what a process wrote is there when the next
// one opens the same folder without any close (a kill -9), settled events stay gone, delivery
// counts keep counting, a torn last line is ignored, and the journal is compacted.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeEvent, type WafleetEvent } from "../../lib/events";
import { openFileEventLog } from "../../lib/events/log-file";
import type { LogMessage } from "../../lib/events/log";
import { FileWebhookStore } from "../../lib/webhooks/file-store";
import type { DeliveryRecord } from "../../lib/webhooks/store";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-eventlog-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const ev = (i: number): WafleetEvent => makeEvent("wa.message.received", { workspaceId: "acme", sessionId: "main", node: "n1" }, { message: { id: `m${i}`, body: `hi-${i}` } } as any);
const CONSUMER = { name: "webhooks", maxDeliver: 10, backoffMs: [10], concurrency: 8 };

/** Consumes with `handle` and collects the messages it was given. */
async function consumeAll(log: Awaited<ReturnType<typeof openFileEventLog>>, handle: (m: LogMessage) => void) {
  const seen: LogMessage[] = [];
  await log.consume(CONSUMER, async (m) => {
    seen.push(m);
    handle(m);
  });
  return seen;
}

const until = async (probe: () => boolean) => {
  for (let i = 0; i < 400 && !probe(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(probe()).toBe(true);
};

describe("the file event log", () => {
  it("gives a reopened log every event no consumer settled, never a settled one", async () => {
    const first = await openFileEventLog(dir);
    const seen = await consumeAll(first, (m) => ((m.event as any).message.body === "hi-1" ? m.ack() : undefined));
    for (let i = 0; i < 4; i++) await first.append(ev(i));
    await until(() => seen.length === 4);
    // hi-1 acked; the others in flight when the process "dies" (no close)
    await new Promise((r) => setTimeout(r, 20));
    const second = await openFileEventLog(dir);
    const again = await consumeAll(second, (m) => m.ack());
    await until(() => again.length === 3);
    expect(again.map((m) => (m.event as any).message.body)).toEqual(["hi-0", "hi-2", "hi-3"]);
    // the delivery count goes on from where the dead process left it
    expect(again.map((m) => m.attempt)).toEqual([2, 2, 2]);
    await new Promise((r) => setTimeout(r, 20));
    const third = await openFileEventLog(dir);
    expect(await third.depth("webhooks")).toBe(0);
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it("keeps appends made before any consumer exists, and ignores a torn last line", async () => {
    const first = await openFileEventLog(dir);
    await first.append(ev(1));
    await first.append(ev(2));
    await fs.appendFile(path.join(dir, "events.jsonl"), '{"a":3,"r":0,"e":{"id":"tor');
    const second = await openFileEventLog(dir);
    const seen = await consumeAll(second, (m) => m.ack());
    await until(() => seen.length === 2);
    expect(seen.map((m) => (m.event as any).message.body)).toEqual(["hi-1", "hi-2"]);
    // new appends continue after the restored ones
    await second.append(ev(3));
    await until(() => seen.length === 3);
    expect(seen[2]!.seq).toBeGreaterThan(seen[1]!.seq);
    await Promise.all([first.close(), second.close()]);
  });

  it("compacts the journal to the events still needed", async () => {
    const log = await openFileEventLog(dir, { compactAfterLines: 50 });
    const seen = await consumeAll(log, (m) => ((m.event as any).message.body === "hi-0" ? undefined : m.ack()));
    for (let i = 0; i < 200; i++) await log.append(ev(i));
    await until(() => seen.length === 200);
    await log.append(ev(999));
    await until(() => seen.length === 201);
    await new Promise((r) => setTimeout(r, 20));
    const lines = (await fs.readFile(path.join(dir, "events.jsonl"), "utf8")).trim().split("\n");
    expect(lines.length).toBeLessThan(120);
    const reopened = await openFileEventLog(dir);
    const again = await consumeAll(reopened, (m) => m.ack());
    await until(() => again.length === 1);
    expect((again[0]!.event as any).message.body).toBe("hi-0");
    await Promise.all([log.close(), reopened.close()]);
  });
});

describe("the file webhook store", () => {
  const record = (id: string, status: DeliveryRecord["status"]): DeliveryRecord => ({ id, workspaceId: "acme", sessionId: "main", event: "wa.message.received", status, attempts: 1, replays: 0, updatedAt: new Date().toISOString(), payload: ev(1) });

  it("keeps settings and delivery records across a restart without close, written atomically", async () => {
    const a = await new FileWebhookStore(dir).load();
    await a.setConfig({ workspaceId: "acme", url: "https://example.com/h", events: ["*"], secret: "whsec_x", headers: {}, createdAt: "t", updatedAt: "t" });
    await a.setConfig({ workspaceId: "beta", url: "https://example.com/b", events: ["*"], secret: "whsec_y", headers: {}, createdAt: "t", updatedAt: "t" });
    expect(await a.removeConfig("beta")).toBe(true);
    await Promise.all([a.recordDelivery(record("01A", "failed")), a.recordDelivery(record("01B", "pending")), a.recordDelivery(record("01B", "delivered"))]);
    const b = await new FileWebhookStore(dir).load();
    expect(await b.getConfig("acme")).toMatchObject({ url: "https://example.com/h", secret: "whsec_x" });
    expect(await b.getConfig("beta")).toBeUndefined();
    expect((await b.listDeliveries("acme", undefined, 10)).map((r) => [r.id, r.status])).toEqual([["01B", "delivered"], ["01A", "failed"]]);
    expect((await b.listDeadLetters(10)).map((r) => r.id)).toEqual(["01A"]);
    expect((await fs.readdir(dir)).sort()).toEqual(["config.json", "deliveries.json"]);
    expect((await fs.stat(path.join(dir, "config.json"))).mode & 0o777).toBe(0o600);
  });

  it("refuses a corrupt file rather than starting empty", async () => {
    await fs.writeFile(path.join(dir, "config.json"), "{not json");
    await expect(new FileWebhookStore(dir).load()).rejects.toThrow(/corrupt/);
  });
});
