// A scriptable SessionEngine for unit tests of the session actor (a single class under test).
import { EventEmitter } from "node:events";
import type { EngineContext, EngineMe, MessageContent, SendOptions, SentMessage, SessionEngine } from "../../lib/engines/types";

export class FakeEngine extends EventEmitter implements SessionEngine {
  static created: FakeEngine[] = [];
  started = 0;
  stopped = 0;
  loggedOut = 0;
  running = false;
  /** Set to make start() wait until released. */
  gate: Promise<void> | undefined;
  startError: Error | undefined;
  me: EngineMe | undefined;

  constructor(readonly ctx: EngineContext) {
    super();
    FakeEngine.created.push(this);
  }

  async start(): Promise<void> {
    this.started++;
    this.running = true;
    if (this.gate) await this.gate;
    if (this.startError) throw this.startError;
    if (!this.running) throw new Error("stopped during start");
    this.emit("qr", "ref,abc,def,ghi", Date.now() + 20000);
  }

  async stop(): Promise<void> {
    this.stopped++;
    this.running = false;
  }

  async logout(): Promise<void> {
    this.loggedOut++;
    this.running = false;
  }

  link(phone = "15550001111"): void {
    this.me = { wid: `${phone}@c.us`, phone, pushname: "Test", platform: "fake" };
    this.emit("authenticated");
    this.emit("ready", this.me);
  }

  async sendMessage(to: string, content: MessageContent, opts?: SendOptions): Promise<SentMessage> {
    return { id: opts?.messageId ?? `m-${content.text}`, to, ack: "SERVER", timestamp: 1 };
  }

  async requestPairingCode(): Promise<string> {
    return "ABCD1234";
  }

  info(): EngineMe | undefined {
    return this.me;
  }

  /** Memory the engine reports; a test makes it grow. */
  memory: number | undefined;

  async memoryUsage(): Promise<number | undefined> {
    return this.running ? this.memory : undefined;
  }
}
