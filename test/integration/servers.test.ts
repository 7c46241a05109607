// The harness itself: real servers start on free ports, die on SIGKILL and come back on the same port.
import net from "node:net";
import { startNats, startRedis } from "../helpers/servers";

function roundTrip(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let got = "";
    s.on("data", (d) => {
      got += d.toString();
      if (got.includes("\r\n")) {
        s.destroy();
        resolve(got);
      }
    });
    s.on("error", reject);
    if (send) s.write(send);
  });
}

describe("test servers", () => {
  it("runs redis-server and restarts it on the same port", async () => {
    const redis = await startRedis();
    try {
      expect(await roundTrip(redis.port, "PING\r\n")).toMatch(/PONG/);
      await redis.stop();
      await expect(roundTrip(redis.port, "PING\r\n")).rejects.toThrow();
      await redis.start();
      expect(await roundTrip(redis.port, "PING\r\n")).toMatch(/PONG/);
    } finally {
      await redis.destroy();
    }
  });

  it("runs nats-server with JetStream", async () => {
    const nats = await startNats();
    try {
      const info = await roundTrip(nats.port, "");
      expect(info).toMatch(/^INFO /);
      expect(JSON.parse(info.slice(5)).jetstream).toBe(true);
    } finally {
      await nats.destroy();
    }
  });
});
