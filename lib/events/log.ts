// The event log: session nodes append every webhook-worthy event; webhook nodes consume it through
// one shared durable consumer with acks, server-scheduled redelivery and a delivery cap. JetStream in
// cluster mode (log-jetstream.ts), memory in embedded mode (log-memory.ts), one interface.
import { WafleetError } from "../errors";
import type { WafleetEvent } from "./index";

/** `wafleet.events.<workspace>.<type>`: one subject per workspace and event type (ids are subject-safe). */
export const SUBJECT_PREFIX = "wafleet.events";

export function subjectOf(event: Pick<WafleetEvent, "workspaceId" | "event">, prefix = SUBJECT_PREFIX): string {
  // workspace ids are ^[A-Za-z0-9_-]{1,64}$ (no dots); "*" (cluster-wide events) becomes "_all"
  const w = event.workspaceId === "*" ? "_all" : event.workspaceId;
  return `${prefix}.${w}.${event.event}`;
}

/**
 * The largest encoded event a log accepts by default. Media never rides inside an event (it goes to
 * the media store, the event carries a descriptor), so events are small; the limit still leaves
 * room for a maximal WhatsApp text (65,536 characters) with its envelope.
 */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024;

/** An event as the log stores it: its JSON, UTF-8. The size limit is measured on this. */
export function encodeEvent(event: WafleetEvent): Uint8Array {
  return Buffer.from(JSON.stringify(event), "utf8");
}

/** What a log reports when it refuses an event it cannot store. */
export interface RejectedEvent {
  id: string;
  event: string;
  workspaceId: string;
  sessionId: string;
  size: number;
  limit: number;
}

/** The refusal an append rejects with: EVENT_TOO_LARGE, never retried, nothing queued. */
export function eventTooLarge(event: WafleetEvent, size: number, limit: number): WafleetError {
  return new WafleetError("EVENT_TOO_LARGE", `event ${event.id} (${event.event}) is ${size} bytes encoded; the event log accepts at most ${limit}`, {
    id: event.id,
    event: event.event,
    size,
    limit,
  });
}

export function rejectedOf(event: WafleetEvent, size: number, limit: number): RejectedEvent {
  return { id: event.id, event: event.event, workspaceId: event.workspaceId, sessionId: event.sessionId, size, limit };
}

export interface AppendOptions {
  /** Manual replays of a dead letter are appended again under a new log id (the event id stays). */
  replay?: number;
}

/** One delivery of one logged event to a consumer. */
export interface LogMessage {
  readonly event: WafleetEvent;
  /** Position in the log. */
  readonly seq: number;
  /** 1 on the first delivery, counted by the log (survives consumer restarts). */
  readonly attempt: number;
  /** 0 for the original append, n for the nth manual replay. */
  readonly replay: number;
  /** Done: never delivered again. */
  ack(): void;
  /** Deliver again after `delayMs` (the log schedules it, within the consumer's maxDeliver). */
  retry(delayMs: number): void;
  /** Never deliver again (dead-lettered or malformed). */
  drop(): void;
}

export interface ConsumeOptions {
  /** Durable consumer name: every process consuming under it shares the work. */
  name: string;
  /** Deliveries before the log gives up on its own (the consumer dead-letters before that). */
  maxDeliver: number;
  /** Redelivery delays by attempt, in ms; the first is also the wait for an ack. */
  backoffMs: number[];
  /** Messages this process holds at once. */
  concurrency: number;
}

export interface LogSubscription {
  stop(): Promise<void>;
}

export type LogHandler = (message: LogMessage) => Promise<void>;

export interface EventLog {
  readonly kind: "memory" | "jetstream";
  /** The largest encoded event append() accepts (bytes). */
  readonly maxEventBytes: number;
  /**
   * Resolves once the event is durably in the log (or queued for it, see the implementation).
   * An event over maxEventBytes is refused at once with EVENT_TOO_LARGE and never blocks the
   * events appended after it.
   */
  append(event: WafleetEvent, opts?: AppendOptions): Promise<void>;
  consume(opts: ConsumeOptions, handler: LogHandler): Promise<LogSubscription>;
  /** Events not yet acknowledged by consumer `name` (waiting plus in flight): the queue depth. */
  depth(name: string): Promise<number>;
  close(): Promise<void>;
}
