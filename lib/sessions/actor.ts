// A session actor: one session's engine, status and desired state on its owning node. Verbs
// (start, stop, restart, logout, remove) are serialised, so two concurrent starts never make two
// engines; engine events from an engine that is no longer current are ignored.
import { WafleetError, type ErrorCode } from "../errors";
import type { EventMessage, EventName, EventPayloads } from "../events";
import { messageEventId } from "../events";
import { inboundMediaId } from "../media/ids";
import type { MediaStore } from "../media/store";
import { launchQueueFor, type LaunchQueue, type LaunchQueues } from "../engines/launch-queue";
import type { EngineFactory, EngineMe, EngineMessage, MessageContent, MessageReceipt, SendOptions, SentMessage, SessionEngine } from "../engines/types";
import { UNLINKED_REASONS } from "../engines/types";
import type { Capability, IncomingCall } from "../engines/capabilities";
import { CAPABILITIES } from "../engines/capabilities";
import type { OutboxPolicy } from "../outbox/types";
import type { CallPolicy } from "./call-policy";
import { StatusMachine, type DesiredState, type SessionStatus } from "./status";
import type { SessionMeta, SessionStorage } from "./storage";

export interface ActorLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export interface ActorDeps {
  storage: SessionStorage;
  /** The node's default engine (WA_ENGINE): sessions whose meta.json names none run on it. */
  engineFactory: EngineFactory;
  /**
   * Every engine installed on this node, by name (the default among them). A session runs on the
   * engine its meta.json names; absent, only the default is installed.
   */
  engines?: ReadonlyMap<string, EngineFactory>;
  /**
   * Where engine starts wait their turn: the node's queue per kind of engine (browser, socket), the
   * session's engine picking one; a single queue serves every engine.
   */
  launchQueue: LaunchQueue | LaunchQueues;
  node: string;
  /** Publishes a session event (payload without the envelope; the caller adds id, node, time). */
  /** `id`: the event's id when it must be derived (a message's events), else a fresh ULID. */
  publish: <N extends EventName>(name: N, scope: { workspaceId: string; sessionId: string }, payload: EventPayloads[N], id?: string) => unknown;
  logger: ActorLogger;
  startTimeoutMs: number;
  /**
   * How long a send waits while the session is STARTING (its engine connecting after a move, a
   * failover or a dropped connection) before it is refused SESSION_NOT_READY. Absent or 0: refused
   * at once. A move's restart takes a second or two; a client told 409 retries blind meanwhile.
   */
  sendReadyWaitMs?: number;
  /** The fencing token this node holds for the workspace; meta.json writes carry it. */
  fencingToken: (workspaceId: string) => number;
  /**
   * Whether this node may run engines now (its cluster lease is valid). Checked before every
   * engine start and by engines before reconnecting. Absent = always.
   */
  admit?: () => boolean;
  /** Backoff for restarting a session whose engine failed while it should run. */
  retry?: { baseMs: number; maxMs: number };
  /**
   * Where received media goes before the message's event is appended (the event carries its
   * descriptor). Without one, media is left out of the event (only its mimetype and size stay).
   */
  media?: MediaStore;
  /** MEDIA_PRESIGN_SECONDS: descriptors in events also carry a presigned S3 URL valid this long (0 = none). */
  mediaPresignSeconds?: number;
}

export interface SessionView {
  workspaceId: string;
  sessionId: string;
  accountId: string | null;
  status: SessionStatus;
  desired: DesiredState;
  node: string;
  me: EngineMe | null;
  reason: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** The engine's name (simulator, wwebjs) */
  engine: string;
  /** What the engine can do beyond the core (DESIGN section 4) */
  capabilities: Capability[];
}

/** Engine errors that keep their code (and status) on the way to the API; any other is ENGINE_ERROR. */
const PASSED_THROUGH = new Set<ErrorCode>(["VALIDATION_ERROR", "INVALID_CURSOR", "ENGINE_TIMEOUT", "GROUP_NOT_ADMIN", "GROUP_NOT_FOUND", "GROUP_FULL", "LABELS_NOT_AVAILABLE"]);

/** A QR or pairing code asked for while the session's create is still being written. */
const notCreatedYet = (status: SessionStatus) => new WafleetError("QR_NOT_AVAILABLE", "No QR code to show yet: the session is still being created", { status });

/** Failures after which retrying would fight over ownership or cannot help. */
const NO_RETRY = new Set(["CONFLICT", "ENGINE_NOT_INSTALLED"]);

/**
 * The factory of an engine by name among the node's installed engines (`name` absent: the node's
 * default); undefined when it is not installed here.
 */
export function engineFactoryFor(deps: Pick<ActorDeps, "engineFactory" | "engines">, name: string | undefined): EngineFactory | undefined {
  if (name === undefined || name === deps.engineFactory.engine) return deps.engineFactory;
  return deps.engines?.get(name);
}

export class SessionActor {
  private engine: SessionEngine | undefined;
  private launchAbort: AbortController | undefined;
  private launching: Promise<void> | undefined;
  private qr: { qr: string; expiresAt: number } | undefined;
  /** When a pairing code was handed out: the engine links by phone number now and shows no QR. */
  private pairingSince: number | undefined;
  private me: EngineMe | undefined;
  private readonly machine: StatusMachine;
  private chain: Promise<unknown> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private removed = false;
  /** Sends waiting for the session to leave STARTING (sendMessage), told of every status change. */
  private readonly statusWaiters = new Set<() => void>();
  /** Calls ringing now that the policy let ring: callId -> caller */
  private readonly ringing = new Map<string, string>();
  /**
   * The events of a session whose create is not durable yet (startWhileCreating), in order, until
   * commitCreate() publishes them or abandonCreate() drops them: no webhook hears of a session
   * that may never exist.
   */
  private held: Array<() => void> | undefined;

  constructor(
    private meta: SessionMeta,
    private readonly deps: ActorDeps,
  ) {
    this.machine = new StatusMachine((status, previous, reason) => {
      this.publish("wa.session.status", reason === undefined ? { status, previous } : { status, previous, reason });
      for (const w of [...this.statusWaiters]) w();
    });
  }

  get workspaceId(): string {
    return this.meta.workspaceId;
  }

  get sessionId(): string {
    return this.meta.sessionId;
  }

  get status(): SessionStatus {
    return this.machine.status;
  }

  get desired(): DesiredState {
    return this.meta.desired;
  }

  private get scope() {
    return { workspaceId: this.meta.workspaceId, sessionId: this.meta.sessionId };
  }

  view(): SessionView {
    return {
      workspaceId: this.meta.workspaceId,
      sessionId: this.meta.sessionId,
      accountId: this.meta.accountId,
      status: this.machine.status,
      desired: this.meta.desired,
      node: this.deps.node,
      me: this.me ?? null,
      reason: this.machine.reason ?? null,
      metadata: this.meta.metadata,
      createdAt: this.meta.createdAt,
      updatedAt: this.meta.updatedAt,
      engine: this.engineName,
      capabilities: CAPABILITIES.filter((c) => this.factory?.capabilities?.has(c)),
    };
  }

  /** The session's engine: the one its meta.json names, else the node's default. */
  get engineName(): string {
    return this.meta.engine ?? this.deps.engineFactory.engine ?? "unknown";
  }

  /** The launch queue of the session's engine's kind (a browser's starts do not hold a socket's). */
  private get launchQueue(): LaunchQueue {
    return launchQueueFor(this.deps.launchQueue, this.engineName);
  }

  /** The factory of the session's engine; undefined when that engine is not installed on this node. */
  private get factory(): EngineFactory | undefined {
    return engineFactoryFor(this.deps, this.meta.engine);
  }

  /** NOT_SUPPORTED (501) naming the engine and the first capability it lacks. */
  assertCapabilities(capabilities: Capability[]): void {
    const missing = capabilities.find((c) => !this.factory?.capabilities?.has(c));
    if (missing) {
      throw new WafleetError("NOT_SUPPORTED", `The ${this.engineName} engine does not support ${missing}`, { engine: this.engineName, capability: missing });
    }
  }

  /**
   * Runs `op` on the engine for a capability it declares: NOT_SUPPORTED when the engine lacks it
   * (whatever the session's status), SESSION_NOT_READY unless the session is WORKING; the engine's
   * failures become ENGINE_ERROR / ENGINE_TIMEOUT, its validation errors stay 400.
   */
  async withCapability<T>(capability: Capability, op: (engine: SessionEngine) => Promise<T>): Promise<T> {
    this.assertCapabilities([capability]);
    const engine = this.engine;
    if (!engine || this.machine.status !== "WORKING") {
      throw new WafleetError("SESSION_NOT_READY", `The session is ${this.machine.status}; it must be WORKING`, { status: this.machine.status });
    }
    try {
      return await op(engine);
    } catch (err: any) {
      if (err instanceof WafleetError) throw err;
      const code = err?.code;
      if (code === "SESSION_NOT_READY") throw new WafleetError("SESSION_NOT_READY", undefined, { status: this.machine.status });
      if (PASSED_THROUGH.has(code)) throw new WafleetError(code, String(err?.message ?? err));
      throw new WafleetError("ENGINE_ERROR", `The engine failed: ${String(err?.message ?? err)}`);
    }
  }

  /** The QR to scan, while the session waits for one. */
  currentQr(): { qr: string; expiresAt: number } {
    if (this.held) throw notCreatedYet(this.machine.status);
    if (this.pairingSince !== undefined && this.machine.status === "SCAN_QR_CODE") {
      // the network took the session off QR linking when it gave the code: an old QR no longer links
      throw new WafleetError("QR_NOT_AVAILABLE", `No QR code to show: a pairing code was handed out at ${new Date(this.pairingSince).toISOString()}; type it on the phone, or restart the session for a new QR`, {
        status: this.machine.status,
        reason: "PAIRING_CODE_PENDING",
      });
    }
    if (this.machine.status !== "SCAN_QR_CODE" || !this.qr || this.qr.expiresAt <= Date.now()) {
      throw new WafleetError("QR_NOT_AVAILABLE", `No QR code to show: the session is ${this.machine.status}`, { status: this.machine.status });
    }
    return this.qr;
  }

  /** Desired state -> running, and an engine on its way. Idempotent. */
  start(): Promise<SessionView> {
    return this.serial(async () => {
      await this.setDesired("running");
      this.ensureEngine();
      return this.view();
    });
  }

  /** Starts the engine without touching meta.json (restore after a restart or a move). */
  resume(): Promise<SessionView> {
    return this.serial(async () => {
      if (this.meta.desired === "running") this.ensureEngine();
      return this.view();
    });
  }

  /**
   * Starts the engine of a session being created while its meta.json is still being written: the
   * engine's way to its first QR (a connection and a handshake with WhatsApp, two round trips at
   * least) overlaps the write and its fsync instead of following them, so the QR is there sooner
   * after the create's answer. Until commitCreate(), the session's events are held and neither a
   * QR nor a pairing code is handed out: a create that fails leaves nothing anyone saw or scanned.
   */
  startWhileCreating(): void {
    this.held = [];
    void this.resume();
  }

  /** The create is durable: the held events go out in their order, and the QR shows. */
  commitCreate(): Promise<SessionView> {
    const held = this.held ?? [];
    this.held = undefined;
    for (const publish of held) publish();
    return this.serial(async () => this.view());
  }

  /** The create failed: the engine stops, the held events are dropped, and the actor is dead. */
  async abandonCreate(): Promise<void> {
    await this.halt().catch(() => undefined);
    this.removed = true;
    this.held = undefined;
  }

  /** Desired state -> stopped, engine stopped (auth kept). Idempotent. */
  stop(): Promise<SessionView> {
    return this.serial(async () => {
      await this.setDesired("stopped");
      await this.shutdownEngine();
      return this.view();
    });
  }

  /** Stops and starts the engine again (desired -> running); `reason` shows on the STOPPED status. */
  restart(reason?: string): Promise<SessionView> {
    return this.serial(async () => {
      await this.setDesired("running");
      await this.shutdownEngine(reason);
      this.ensureEngine();
      return this.view();
    });
  }

  /** Unlinks the device (when connected) and deletes auth; the session stays, stopped. */
  logout(): Promise<SessionView> {
    return this.serial(async () => {
      await this.setDesired("stopped");
      await this.unlinkAndStop();
      return this.view();
    });
  }

  /** Stop + logout + delete the folder and the media it received. After this the actor is dead. */
  remove(): Promise<void> {
    return this.serial(async () => {
      this.removed = true;
      await this.unlinkAndStop();
      await this.deps.storage.remove(this.meta.workspaceId, this.meta.sessionId);
      await this.deps.media?.deleteSession(this.meta.workspaceId, this.meta.sessionId).catch((err: Error) =>
        this.deps.logger.warn(`media of ${this.meta.workspaceId}/${this.meta.sessionId} not deleted (the retention sweep will): ${err.message}`),
      );
    });
  }

  /**
   * A received message as its event carries it: its media written to the media store first (under
   * an id derived from the message, so a redelivery is stored once) and replaced by the descriptor.
   * A store failure rejects: the message stays unacknowledged and WhatsApp delivers it again.
   */
  private async storeMedia(message: EngineMessage): Promise<EventMessage> {
    const { media, ...rest } = message;
    if (!media) return rest;
    // an engine that hands no bytes (only what the media is)
    if (!("data" in media) || typeof media.data !== "string") {
      const described = { mimetype: media.mimetype, ...(media.filename ? { filename: media.filename } : {}) };
      // the engine could not get the bytes (too large, a failed download): the event says why
      return { ...rest, media: "error" in media && media.error ? { ...described, size: media.size, error: media.error } : described };
    }
    const { workspaceId, sessionId } = this.meta;
    const size = Math.floor((media.data.length * 3) / 4) - (media.data.endsWith("==") ? 2 : media.data.endsWith("=") ? 1 : 0);
    const notStored = { mimetype: media.mimetype, ...(media.filename ? { filename: media.filename } : {}), size, error: "MEDIA_TOO_LARGE" as const };
    const store = this.deps.media;
    if (!store || size > store.maxBytes) {
      this.deps.logger.warn(`media of message ${message.id} (${workspaceId}/${sessionId}, ${size} bytes) not stored: ${store ? `larger than ${store.maxBytes} bytes` : "no media store"}`);
      return { ...rest, media: notStored };
    }
    const mediaId = inboundMediaId(workspaceId, sessionId, message.id, message.timestamp);
    const descriptor = await store.putBase64(workspaceId, media.data, { mimetype: media.mimetype, filename: media.filename, sessionId, mediaId });
    return { ...rest, media: await store.withPresignedUrl(workspaceId, descriptor, this.deps.mediaPresignSeconds ?? 0) };
  }

  /** Stops the engine for a node shutdown or handoff; desired state is left as it is. */
  halt(): Promise<void> {
    return this.serial(() => this.shutdownEngine());
  }

  async sendMessage(to: string, content: MessageContent, opts?: SendOptions): Promise<SentMessage> {
    if (this.machine.status === "STARTING") await this.leavingStarting(this.deps.sendReadyWaitMs ?? 0);
    const engine = this.engine;
    if (!engine || this.machine.status !== "WORKING") {
      throw new WafleetError("SESSION_NOT_READY", `The session is ${this.machine.status}; it must be WORKING to send`, { status: this.machine.status });
    }
    try {
      if (content.mentionAll) content = await this.withEveryoneMentioned(engine, to, content);
      return await engine.sendMessage(to, content, opts);
    } catch (err: any) {
      if (err?.code === "SESSION_NOT_READY") throw new WafleetError("SESSION_NOT_READY", undefined, { status: this.machine.status });
      if (err instanceof WafleetError) throw err;
      if (err?.code === "CONTACT_BLOCKED" || err?.code === "GROUP_NOT_ADMIN" || err?.code === "GROUP_NOT_FOUND" || err?.code === "VALIDATION_ERROR" || err?.code === "ENGINE_TIMEOUT") throw new WafleetError(err.code, String(err?.message ?? err));
      throw new WafleetError("ENGINE_ERROR", `Sending failed: ${String(err?.message ?? err)}`);
    }
  }

  /** Resolves when the status leaves STARTING (whatever it becomes) or after `ms`. */
  private leavingStarting(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.statusWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (this.machine.status !== "STARTING") done();
      };
      const timer = setTimeout(done, ms);
      this.statusWaiters.add(check);
    });
  }

  /** `mentionAll`: the group's members (but the account) join the message's mentions. */
  private async withEveryoneMentioned(engine: SessionEngine, groupId: string, content: MessageContent): Promise<MessageContent> {
    const { mentionAll: _all, ...rest } = content;
    const group = await engine.getGroup?.(groupId);
    if (!group) throw new WafleetError("GROUP_NOT_FOUND", `No group ${groupId} in this session`, { groupId });
    const me = this.me?.wid;
    const everyone = group.participants.map((p) => p.id).filter((id) => id !== me);
    return { ...rest, mentions: [...new Set([...(rest.mentions ?? []), ...everyone])] };
  }

  async requestPairingCode(phone: string): Promise<string> {
    if (this.held) throw notCreatedYet(this.machine.status);
    const engine = this.engine;
    if (!engine || (this.machine.status !== "SCAN_QR_CODE" && this.machine.status !== "STARTING")) {
      throw new WafleetError("QR_NOT_AVAILABLE", `A pairing code needs a session waiting to be linked; it is ${this.machine.status}`, { status: this.machine.status });
    }
    try {
      const code = await engine.requestPairingCode(phone);
      if (this.engine === engine) this.pairingMode();
      return code;
    } catch (err: any) {
      throw new WafleetError("ENGINE_ERROR", `Pairing code request failed: ${String(err?.message ?? err)}`);
    }
  }

  /** The engine gave a pairing code: its QR is void from now on (until it shows a new one). */
  private pairingMode(): void {
    this.qr = undefined;
    this.pairingSince ??= Date.now();
  }

  /**
   * Publishes a session event; while the session's create is not durable, holds it (in order) and
   * answers once it is published. A dropped event's promise never settles: a message behind it is
   * never acknowledged, so WhatsApp delivers it again.
   */
  private publish<N extends EventName>(name: N, payload: EventPayloads[N], id?: string): unknown {
    const held = this.held;
    if (!held) return this.deps.publish(name, this.scope, payload, id);
    return new Promise((resolve) => held.push(() => resolve(this.deps.publish(name, this.scope, payload, id))));
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.removed) throw new WafleetError("SESSION_NOT_FOUND");
      return op();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The outbox's policy as meta.json keeps it (undefined = the defaults). */
  get outboxPolicy(): OutboxPolicy | undefined {
    return this.meta.outboxPolicy;
  }

  /** Keeps the outbox's policy in meta.json (fenced like every write of it). */
  setOutboxPolicy(policy: OutboxPolicy): Promise<void> {
    return this.serial(async () => {
      const next: SessionMeta = { ...this.meta, outboxPolicy: policy, updatedAt: new Date().toISOString(), fencingToken: this.deps.fencingToken(this.meta.workspaceId) };
      await this.deps.storage.writeMeta(next);
      this.meta = next;
    });
  }

  /** The call policy as meta.json keeps it (undefined = the default: calls ring). */
  get callPolicy(): CallPolicy | undefined {
    return this.meta.callPolicy;
  }

  /** Keeps the call policy in meta.json (fenced like every write of it). */
  setCallPolicy(policy: CallPolicy): Promise<void> {
    return this.serial(async () => {
      const next: SessionMeta = { ...this.meta, callPolicy: policy, updatedAt: new Date().toISOString(), fencingToken: this.deps.fencingToken(this.meta.workspaceId) };
      await this.deps.storage.writeMeta(next);
      this.meta = next;
    });
  }

  /** Rejects a call through the API; false when no such call rings this session. */
  async rejectCall(callId: string): Promise<boolean> {
    const from = this.ringing.get(callId);
    const ok = await this.withCapability("calls", (e) => e.rejectCall!(callId));
    if (ok) {
      this.ringing.delete(callId);
      this.publish("wa.call.rejected", { callId, from: from ?? "", auto: false });
    }
    return ok;
  }

  /** A call came in: its event, then the call policy (reject, reply) when it says so. */
  private async onCall(engine: SessionEngine, call: IncomingCall): Promise<void> {
    this.publish("wa.call.received", { callId: call.callId, from: call.from, isVideo: call.isVideo, isGroup: call.isGroup });
    const policy = this.meta.callPolicy;
    if (!policy?.autoReject) {
      this.ringing.set(call.callId, call.from);
      // a bounded memory of who is calling (only for the rejected event's `from`)
      if (this.ringing.size > 100) this.ringing.delete(this.ringing.keys().next().value as string);
      return;
    }
    const rejected = await engine.rejectCall!(call.callId);
    if (!rejected) return;
    let replied = false;
    if (policy.message && !call.isGroup && this.machine.status === "WORKING" && this.engine === engine) {
      await engine.sendMessage(call.from, { text: policy.message }).then(
        () => (replied = true),
        (err: Error) => this.deps.logger.warn(`call reply to ${call.from} (${this.meta.workspaceId}/${this.meta.sessionId}) not sent: ${err?.message ?? err}`),
      );
    }
    this.publish("wa.call.rejected", { callId: call.callId, from: call.from, auto: true, replied });
  }

  private async setDesired(desired: DesiredState): Promise<void> {
    if (this.meta.desired === desired) return;
    const next: SessionMeta = { ...this.meta, desired, updatedAt: new Date().toISOString(), fencingToken: this.deps.fencingToken(this.meta.workspaceId) };
    await this.deps.storage.writeMeta(next);
    this.meta = next;
  }

  private ensureEngine(): void {
    if (this.engine) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const { workspaceId, sessionId } = this.meta;
    const admit = this.deps.admit;
    if (admit && !admit()) {
      this.machine.transition("STOPPED", "LEASE_LOST");
      return;
    }
    const factory = this.factory;
    if (!factory) {
      // a session moved (failover, restore) to a node without its engine: it waits, failed, for a
      // node that has it; retrying here cannot help
      this.machine.transition("STARTING");
      this.fail(`ENGINE_NOT_INSTALLED: the ${this.engineName} engine is not installed on node ${this.deps.node}`);
      return;
    }
    const engine = factory({ workspaceId, sessionId, authDir: this.deps.storage.authDir(workspaceId, sessionId), mayConnect: admit });
    this.engine = engine;
    this.qr = undefined;
    this.pairingSince = undefined;
    this.wire(engine);
    this.machine.transition("STARTING");
    const abort = new AbortController();
    this.launchAbort = abort;
    this.launching = this.launchQueue
      .run(() => {
        // the queue may have held this start for a while: ask again right before connecting
        if (admit && !admit()) return Promise.reject(new Error("LEASE_LOST: this node may not run sessions now"));
        return withDeadline(engine.start(), this.deps.startTimeoutMs, `engine start timed out after ${this.deps.startTimeoutMs} ms`);
      }, abort.signal)
      .then(
        () => {
          this.retries = 0;
        },
        async (err) => {
          if (this.engine !== engine) return;
          this.engine = undefined;
          await engine.stop().catch(() => undefined);
          this.fail(String(err?.message ?? err));
        },
      );
  }

  private wire(engine: SessionEngine): void {
    const current = () => this.engine === engine;
    engine.on("qr", (qr: string, expiresAt: number) => {
      if (!current()) return;
      this.qr = { qr, expiresAt };
      this.pairingSince = undefined;
      this.machine.transition("SCAN_QR_CODE");
      this.publish("wa.session.qr", { qr, expiresAt });
    });
    engine.on("code", () => {
      if (!current()) return;
      this.pairingMode();
    });
    engine.on("authenticated", () => {
      if (!current()) return;
      this.qr = undefined;
      this.pairingSince = undefined;
      if (this.machine.status === "SCAN_QR_CODE") this.machine.transition("STARTING", "authenticated");
    });
    engine.on("ready", (me: EngineMe) => {
      if (!current()) return;
      this.me = me;
      this.qr = undefined;
      this.pairingSince = undefined;
      this.retries = 0;
      this.machine.transition("WORKING");
      this.publish("wa.session.ready", { me });
    });
    engine.on("message", (message, receipt?: MessageReceipt) => {
      // an engine that is no longer current does not get its receipt: the network redelivers the
      // message to whichever engine owns the session now
      if (!current()) {
        receipt?.defer();
        return;
      }
      // acknowledge to WhatsApp only once the event is durable (in the event log): a node killed
      // in between leaves the message unacknowledged, and the network delivers it again
      const done = receipt?.defer();
      // the event id is the message's: a redelivery (the network again, or a catch-up from history) is a duplicate
      const eventId = messageEventId("wa.message.received", this.scope, message.id, message.timestamp);
      this.storeMedia(message)
        .then((stored) => this.publish("wa.message.received", { message: stored }, eventId))
        .then(
        () => done?.(),
        (err: Error) => this.deps.logger.warn(`message ${message.id} of ${this.meta.workspaceId}/${this.meta.sessionId} not durable, left unacknowledged: ${err?.message ?? err}`),
      );
    });
    engine.on("message_ack", (messageId: string, ack) => {
      if (!current()) return;
      this.publish("wa.message.ack", { messageId, ack });
    });
    engine.on("message_sent", (message) => {
      if (!current()) return;
      // an own message sent from another device: its media is stored like a received one's
      this.storeMedia(message).then(
        (stored) => this.publish("wa.message.sent", { message: stored }, messageEventId("wa.message.sent", this.scope, message.id, message.timestamp)),
        (err: Error) => this.deps.logger.warn(`media of sent message ${message.id} (${this.meta.workspaceId}/${this.meta.sessionId}) not stored: ${err?.message ?? err}`),
      );
    });
    engine.on("message_edited", (messageId, text, chatId) => {
      if (current()) this.publish("wa.message.edited", { messageId, chatId, text });
    });
    engine.on("message_revoked", (messageId, chatId) => {
      if (current()) this.publish("wa.message.revoked", { messageId, chatId });
    });
    engine.on("message_reaction", (messageId, from, emoji, chatId) => {
      if (current()) this.publish("wa.message.reaction", { messageId, chatId, from, emoji });
    });
    engine.on("poll_vote", (messageId, voter, options, chatId) => {
      if (current()) this.publish("wa.poll.vote", { messageId, chatId, voter, options });
    });
    engine.on("presence", (chatId, state, from) => {
      if (current()) this.publish("wa.presence", { chatId, from, state });
    });
    engine.on("group_update", (u) => {
      if (current()) this.publish("wa.group.update", u);
    });
    engine.on("call", (call) => {
      if (!current()) return;
      this.onCall(engine, call).catch((err: Error) => this.deps.logger.warn(`call ${call.callId} of ${this.meta.workspaceId}/${this.meta.sessionId} not rejected: ${err?.message ?? err}`));
    });
    engine.on("label", (chatId, labelId, on) => {
      if (current()) this.publish("wa.label.update", { chatId, labelId, change: on ? "added" : "removed" });
    });
    engine.on("disconnected", (reason: string) => {
      if (!current()) return;
      this.publish("wa.session.disconnected", { reason });
      if (reason === "CONFLICT") {
        // another connection took the device: ownership broke somewhere; never fight over it
        this.engine = undefined;
        void engine.stop().catch(() => undefined);
        this.fail("CONFLICT");
      } else if (UNLINKED_REASONS.has(reason)) {
        // the device is gone from the phone (or the network no longer knows its credentials): it shows a QR next
        this.deps.logger.warn(`session ${this.meta.workspaceId}/${this.meta.sessionId} is no longer linked (${reason}): it will show a QR`);
        this.me = undefined;
        if (this.machine.status === "WORKING") this.machine.transition("STARTING", reason);
      } else if (this.machine.status === "WORKING") {
        this.machine.transition("STARTING", reason);
      }
    });
    engine.on("failed", (err: Error) => {
      if (!current()) return;
      this.engine = undefined;
      this.fail(String(err?.message ?? err));
    });
  }

  private fail(reason: string): void {
    this.qr = undefined;
    this.pairingSince = undefined;
    this.machine.transition("FAILED", reason);
    this.deps.logger.warn(`session ${this.meta.workspaceId}/${this.meta.sessionId} failed: ${reason}`);
    if (this.meta.desired === "running" && !NO_RETRY.has(reason.split(":")[0]!) && !this.removed) this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const { baseMs, maxMs } = this.deps.retry ?? { baseMs: 2000, maxMs: 60000 };
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(this.retries, 16)) * (0.5 + Math.random() / 2);
    this.retries++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.serial(async () => {
        if (this.meta.desired === "running" && !this.engine && this.machine.status === "FAILED") this.ensureEngine();
      }).catch(() => undefined);
    }, delay);
  }

  /** What the engine says it uses (undefined when it cannot tell or no engine runs). */
  async memoryUsage(): Promise<number | undefined> {
    return this.engine?.memoryUsage?.().catch(() => undefined);
  }

  private async shutdownEngine(reason?: string): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retries = 0;
    const engine = this.engine;
    this.engine = undefined;
    this.launchAbort?.abort(new Error("session stopped"));
    this.launchAbort = undefined;
    if (engine) {
      await engine.stop().catch((err) => this.deps.logger.warn(`engine stop failed for ${this.meta.workspaceId}/${this.meta.sessionId}: ${err?.message ?? err}`));
    }
    await this.launching?.catch(() => undefined);
    this.launching = undefined;
    this.qr = undefined;
    this.pairingSince = undefined;
    this.machine.transition("STOPPED", reason);
  }

  private async unlinkAndStop(): Promise<void> {
    const engine = this.engine;
    let unlinked = false;
    if (engine && this.machine.status === "WORKING") {
      this.engine = undefined;
      this.launchAbort?.abort(new Error("session logged out"));
      await engine.logout().then(
        () => (unlinked = true),
        (err) => this.deps.logger.warn(`logout failed for ${this.meta.workspaceId}/${this.meta.sessionId}: ${err?.message ?? err}`),
      );
    }
    // the engine is gone before auth is deleted, so nothing writes into a folder being removed
    await this.shutdownEngine();
    if (!unlinked) await this.unlinkOffline();
    this.me = undefined;
    await this.deps.storage.removeAuth(this.meta.workspaceId, this.meta.sessionId);
  }

  /**
   * A session that is not connected (stopped, failed, reconnecting) may still be linked: WhatsApp
   * keeps it among the phone's linked devices, which are few, until it is unlinked. A throwaway
   * engine connects with the stored credentials just long enough to find out: linked, it unlinks;
   * a QR means there is nothing to unlink. Its events go nowhere, so the session stays STOPPED.
   * Bounded (the queue wait included) so the logout answers within the API's deadline; past it,
   * or on a node that may not connect, only the credentials are deleted and the phone keeps the
   * device until it is removed there.
   */
  private async unlinkOffline(): Promise<void> {
    const { workspaceId, sessionId } = this.meta;
    const authDir = this.deps.storage.authDir(workspaceId, sessionId);
    const factory = this.factory;
    if (!factory) return;
    const stored = factory.linked ? await factory.linked(authDir).catch(() => true) : await this.deps.storage.hasAuth(workspaceId, sessionId);
    if (!stored) return;
    const where = `${workspaceId}/${sessionId}`;
    const admit = this.deps.admit;
    if (admit && !admit()) {
      this.deps.logger.warn(`logout of ${where}: this node may not connect now; credentials deleted without unlinking the device on the phone`);
      return;
    }
    const deadlineMs = Math.min(this.deps.startTimeoutMs, OFFLINE_UNLINK_MS);
    const engine = factory({ workspaceId, sessionId, authDir, mayConnect: admit });
    let ready = false;
    engine.on("ready", () => (ready = true));
    // an incoming message in this window is left to the network (the device is about to go)
    engine.on("message", (_message, receipt) => void receipt?.defer());
    engine.on("failed", () => undefined);
    try {
      await withDeadline(
        this.launchQueue.run(() => engine.start(), AbortSignal.timeout(deadlineMs)),
        deadlineMs,
        `no answer from WhatsApp within ${deadlineMs} ms`,
      );
      if (ready) {
        await engine.logout();
        this.deps.logger.info(`logout of ${where}: the device was linked though not connected; unlinked it`);
      }
    } catch (err: any) {
      this.deps.logger.warn(`logout of ${where}: could not reach WhatsApp to unlink the device (${err?.message ?? err}); credentials deleted, the phone keeps the device until it is removed there`);
    } finally {
      await engine.stop().catch(() => undefined);
    }
  }
}

/** The most a logout waits to unlink a device that was not connected (queue and connection). */
const OFFLINE_UNLINK_MS = 20_000;

function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
