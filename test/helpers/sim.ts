// The simulated WhatsApp network for tests: started in-process on a free loopback port, with a JSON
// admin client and a raw protocol client (WireClient) that speaks the frames by hand.
import { EventEmitter } from "node:events";
import { WebSocket } from "ws";
import type { ClientOptions } from "ws";
import { startSimNetwork } from "../../lib/simulator/network";
import type { RunningSimNetwork, StartSimNetworkOptions } from "../../lib/simulator/network";
import type { ClientFrame, ServerFrame, SimCredentials } from "../../lib/simulator/protocol";
import type { AckLevel } from "../../lib/whatsapp";
import { request } from "./http";
import type { HttpResult } from "./http";

export interface TestSim extends RunningSimNetwork {
  get(path: string): Promise<HttpResult>;
  post(path: string, body?: unknown): Promise<HttpResult>;
}

/** Starts a network on a free loopback port (no QR rotation, quick keepalive defaults unless overridden). */
export async function startTestSim(opts: StartSimNetworkOptions = {}): Promise<TestSim> {
  const sim = await startSimNetwork({ port: 0, qrRotateMs: 60_000, deviceAckDelayMs: 10, ...opts });
  return {
    ...sim,
    get: (path) => request(sim.url, "GET", path),
    post: (path, body = {}) => request(sim.url, "POST", path, { body }),
  };
}

type FrameOf<T extends ServerFrame["t"]> = Extract<ServerFrame, { t: T }>;

/** A hand-driven protocol client: send frames, and take the server's frames in order by type. */
export class WireClient {
  readonly frames: ServerFrame[] = [];
  /** Resolves with the close code once the socket has closed. */
  readonly closed: Promise<number>;
  private readonly unread: ServerFrame[] = [];
  private readonly arrivals = new EventEmitter();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      this.frames.push(frame);
      this.unread.push(frame);
      this.arrivals.emit("frame");
    });
    ws.on("error", () => {});
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  }

  static async connect(url: string, opts: ClientOptions = {}): Promise<WireClient> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`, opts);
    const client = new WireClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return client;
  }

  /** Connects and sends hello (with creds to resume, without to be shown QRs). */
  static async hello(url: string, creds?: SimCredentials, opts: ClientOptions = {}): Promise<WireClient> {
    const client = await WireClient.connect(url, opts);
    client.send({ t: "hello", creds });
    return client;
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /**
   * The oldest frame of type `t` (and matching `where`) not taken yet, waiting for it if needed.
   * Other frames stay unread for later takes.
   */
  take<T extends ServerFrame["t"]>(t: T, opts: { where?: (frame: FrameOf<T>) => boolean; timeoutMs?: number } = {}): Promise<FrameOf<T>> {
    const timeoutMs = opts.timeoutMs ?? 3000;
    const matches = (f: ServerFrame) => f.t === t && (!opts.where || opts.where(f as FrameOf<T>));
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.unread.findIndex(matches);
        if (i === -1) return false;
        const [frame] = this.unread.splice(i, 1);
        clearTimeout(timer);
        this.arrivals.off("frame", check);
        resolve(frame as FrameOf<T>);
        return true;
      };
      const timer = setTimeout(() => {
        this.arrivals.off("frame", check);
        reject(new Error(`no matching "${t}" frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      if (!check()) this.arrivals.on("frame", check);
    });
  }

  /** The `level` ack of message `id`. */
  takeAck(id: string, level: AckLevel, timeoutMs?: number): Promise<FrameOf<"ack">> {
    return this.take("ack", { where: (f) => f.id === id && f.ack === level, timeoutMs });
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    await this.closed;
  }
}

/** Links a new WireClient as `phone` by scanning its QR; returns the client (ready) and its credentials. */
export async function linkWireClient(sim: TestSim, phone: string): Promise<{ client: WireClient; creds: SimCredentials }> {
  const client = await WireClient.hello(sim.url);
  const { qr } = await client.take("qr");
  const res = await sim.post("/sim/link", { qr, phone });
  if (res.status !== 200) throw new Error(`link failed: ${res.status} ${res.body.toString()}`);
  const { creds } = await client.take("paired");
  await client.take("ready");
  return { client, creds };
}
