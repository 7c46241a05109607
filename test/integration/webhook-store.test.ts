// The dead letters of every workspace, on both webhook stores behind one interface: memory
// (embedded) and Redis (a real redis-server). The Redis store keeps a store-wide index in the same
// script that moves a record between statuses, so the index never disagrees with the lists.
import { MemoryWebhookStore, RECORD_CAPS, type DeliveryRecord, type WebhookStore } from "../../lib/webhooks/store";
import { RedisWebhookStore } from "../../lib/webhooks/redis-store";
import { startRedis, type RedisServer } from "../helpers/servers";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30000);
afterAll(async () => {
  await redis?.destroy();
});

const stores: Array<[string, () => WebhookStore]> = [
  ["memory", () => new MemoryWebhookStore()],
  ["redis", () => new RedisWebhookStore({ url: redis.url, prefix: `t${Math.random().toString(36).slice(2)}:` })],
];

const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 6, 0, s)).toISOString();
const rec = (workspaceId: string, id: string, status: DeliveryRecord["status"], second: number): DeliveryRecord => ({ id, workspaceId, sessionId: "s1", event: "wa.message.received", status, attempts: 1, replays: 0, updatedAt: at(second) });

describe.each(stores)("dead letters on the %s store", (_name, make) => {
  let store: WebhookStore;
  beforeEach(() => {
    store = make();
  });
  afterEach(async () => {
    await store.close();
  });

  it("lists the failed records of every workspace, newest first, and pages back by time", async () => {
    await store.recordDelivery(rec("alpha", "01A", "failed", 1));
    await store.recordDelivery(rec("beta", "01B", "failed", 3));
    await store.recordDelivery(rec("alpha", "01C", "delivered", 4));
    await store.recordDelivery(rec("gamma", "01D", "failed", 2));
    await store.recordDelivery(rec("beta", "01E", "pending", 5));
    expect((await store.listDeadLetters(10)).map((r) => `${r.workspaceId}/${r.id}`)).toEqual(["beta/01B", "gamma/01D", "alpha/01A"]);
    expect((await store.listDeadLetters(2)).map((r) => r.id)).toEqual(["01B", "01D"]);
    expect((await store.listDeadLetters(10, Date.parse(at(2)))).map((r) => r.id)).toEqual(["01A"]);
    expect(await store.listDeadLetters(10, Date.parse(at(1)))).toEqual([]);
  });

  it("drops a letter that is replayed (pending, then delivered) and takes it back when it fails again", async () => {
    await store.recordDelivery(rec("alpha", "01A", "failed", 1));
    await store.recordDelivery({ ...rec("alpha", "01A", "pending", 2), replays: 1 });
    expect(await store.listDeadLetters(10)).toEqual([]);
    await store.recordDelivery({ ...rec("alpha", "01A", "failed", 3), replays: 1 });
    expect((await store.listDeadLetters(10)).map((r) => [r.id, r.replays])).toEqual([["01A", 1]]);
    await store.recordDelivery({ ...rec("alpha", "01A", "delivered", 4), replays: 2 });
    expect(await store.listDeadLetters(10)).toEqual([]);
  });

  it("forgets letters trimmed from their workspace's list", async () => {
    const cap = RECORD_CAPS.failed;
    // the cap is large: fill it cheaply in one workspace, then one more pushes the oldest out
    for (let i = 0; i <= cap; i++) await store.recordDelivery(rec("alpha", `L${String(i).padStart(6, "0")}`, "failed", 0));
    const all = await store.listDeadLetters(500);
    expect(all).toHaveLength(500);
    const ids = new Set((await store.listDeadLetters(cap + 10)).map((r) => r.id));
    expect(ids.size).toBe(cap);
    expect(ids.has("L000000")).toBe(false);
  }, 60000);
});
