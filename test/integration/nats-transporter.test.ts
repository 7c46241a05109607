// The coalescing NATS transporter (lib/net/nats-transporter.ts) against a real nats-server, as
// bin/wafleet builds brokers with it: calls answered, events delivered in the order they were sent,
// and a stopping node's DISCONNECT sent before its connection closes (the peer hears of a clean
// stop at once, not from a missed heartbeat seconds later).
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { CoalescingNatsTransporter } from "../../lib/net/nats-transporter";
import { waitFor } from "../helpers/processes";
import { startNats, type NatsServer } from "../helpers/servers";

jest.setTimeout(120_000);

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
});
afterAll(() => nats.destroy());

const brokerOn = (nodeID: string) =>
  new ServiceBroker({ namespace: "tx", nodeID, transporter: new CoalescingNatsTransporter({ servers: [nats.url.replace("nats://", "")] }) as any, logger: false, heartbeatInterval: 5, heartbeatTimeout: 30 });

describe("the coalescing NATS transporter on a real NATS", () => {
  it("answers calls, delivers a node's events in order, and tells peers of a clean stop", async () => {
    const gateway = brokerOn("gw");
    const node = brokerOn("n1");
    const seen: number[] = [];
    const left: Array<{ id: string; unexpected: boolean }> = [];
    gateway.createService({
      name: "api",
      events: {
        "wa.session.status"(ctx: any) {
          seen.push(ctx.params.seq);
        },
        "$node.disconnected"(ctx: any) {
          left.push({ id: ctx.params.node.id, unexpected: ctx.params.unexpected });
        },
      },
    } as ServiceSchema);
    node.createService({
      name: "sessions",
      actions: {
        async create(ctx: any) {
          // events from separate turns and the answer after them
          for (let i = 0; i < 3; i++) {
            void ctx.broker.broadcast("wa.session.status", { seq: ctx.params.k * 3 + i });
            await new Promise((r) => setImmediate(r));
          }
          return { k: ctx.params.k };
        },
      },
    } as ServiceSchema);
    await Promise.all([gateway.start(), node.start()]);
    try {
      await gateway.waitForServices(["sessions"]);
      await node.waitForServices(["api"]);
      const answers = await Promise.all(Array.from({ length: 20 }, (_, k) => gateway.call("sessions.create", { k })));
      expect(answers.map((a: any) => a.k)).toEqual(Array.from({ length: 20 }, (_, k) => k));
      await waitFor("every event", async () => seen.length === 60, 10_000, 20);
      // each call's events arrive in the order its node sent them
      for (let k = 0; k < 20; k++) expect(seen.filter((s) => Math.floor(s / 3) === k)).toEqual([k * 3, k * 3 + 1, k * 3 + 2]);
      await node.stop();
      // a lost DISCONNECT would be found by the heartbeat check instead, as an unexpected loss
      await waitFor("the gateway hears n1 left", async () => left.length > 0, 90_000, 20);
      expect(left).toEqual([{ id: "n1", unexpected: false }]);
    } finally {
      await node.stop().catch(() => undefined);
      await gateway.stop();
    }
  });
});
