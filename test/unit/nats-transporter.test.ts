// The NATS transporter's coalescing (lib/net/nats-transporter.ts): what a node sends in one turn of
// its event loop reaches nats.js in one synchronous run (so nats.js writes it to the socket once),
// in the order it was sent, and nothing held is lost when the node disconnects.
import { CoalescingNatsTransporter } from "../../lib/net/nats-transporter";

function transporterWithFakeClient() {
  const tx = new CoalescingNatsTransporter({ servers: ["127.0.0.1:4222"] });
  const log: string[] = [];
  const client = {
    publish: jest.fn((subject: string, data: Uint8Array) => void log.push(`${subject} ${Buffer.from(data).toString()}`)),
    flush: jest.fn(async () => void log.push("flush")),
    close: jest.fn(async () => void log.push("close")),
  };
  (tx as any).client = client;
  (tx as any).logger = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() };
  return { tx, client, log };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("the coalescing NATS transporter", () => {
  it("hands the packets sent in one turn, from separate callbacks, to nats.js together and in order", async () => {
    const { tx, client, log } = transporterWithFakeClient();
    // one send now, one after a microtask, one from another callback of the same turn: with
    // Moleculer's transporter each reached nats.js on its own (and became its own socket write)
    await tx.send("MOL.EVENT.gw", Buffer.from("status"));
    await Promise.resolve().then(() => tx.send("MOL.RES.gw", Buffer.from("reply")));
    await new Promise<void>((resolve) =>
      process.nextTick(() => {
        void tx.send("MOL.EVENT.gw", Buffer.from("qr"));
        resolve();
      }),
    );
    expect(client.publish).not.toHaveBeenCalled();
    await nextTurn();
    expect(log).toEqual(["MOL.EVENT.gw status", "MOL.RES.gw reply", "MOL.EVENT.gw qr"]);
    // the next turn's packets are a new batch
    await tx.send("MOL.EVENT.gw", Buffer.from("ready"));
    await nextTurn();
    expect(log.slice(3)).toEqual(["MOL.EVENT.gw ready"]);
  });

  it("publishes what it holds before the connection closes (a stopping node's DISCONNECT)", async () => {
    const { tx, log } = transporterWithFakeClient();
    await tx.send("MOL.DISCONNECT", Buffer.from("bye"));
    await tx.disconnect();
    expect(log).toEqual(["MOL.DISCONNECT bye", "flush", "close"]);
  });

  it("refuses a packet over the server's max_payload at send, as nats.js's publish did (Moleculer reports it)", async () => {
    const { tx, client, log } = transporterWithFakeClient();
    (client as any).info = { max_payload: 8 };
    await expect(tx.send("MOL.REQ.n1", Buffer.from("123456789"))).rejects.toThrow(/max_payload of 8 \(MAX_PAYLOAD_EXCEEDED\)/);
    await tx.send("MOL.REQ.n1", Buffer.from("12345678"));
    await nextTurn();
    expect(log).toEqual(["MOL.REQ.n1 12345678"]);
  });

  it("keeps publishing the rest of a batch when one publish throws", async () => {
    const { tx, client, log } = transporterWithFakeClient();
    client.publish.mockImplementationOnce(() => {
      throw new Error("connection closed");
    });
    await tx.send("a", Buffer.from("1"));
    await tx.send("b", Buffer.from("2"));
    await nextTurn();
    expect(log).toEqual(["b 2"]);
    expect((tx as any).logger.warn).toHaveBeenCalledWith(expect.stringContaining("connection closed"));
  });
});
