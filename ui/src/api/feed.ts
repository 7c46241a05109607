// Live events of one workspace (GET /api/v1/workspaces/:w/events), read with fetch() and a
// streaming reader so the key stays in a header. One connection per workspace, shared by every
// view that listens; it reconnects with backoff and tells listeners to re-read what they show,
// since events sent while it was away are not replayed.
import type { EventName, WafleetEvent } from "../../../lib/events";
import { auth } from "../auth";
import { errorOf, reportHealth } from "./client";
import { SseParser } from "./sse";

/** Any event of the stream, discriminated by its `event` name. */
export type LiveEvent = { [N in EventName]: WafleetEvent<N> }[EventName];
export type FeedState = "connecting" | "live" | "retrying" | "closed";

interface Listener {
  onEvent(e: LiveEvent): void;
  /** The stream (re)connected: anything shown may have missed events. */
  onResync?(): void;
  onState?(s: FeedState, detail?: string): void;
}

const RECENT = 500;
const CLOSE_GRACE_MS = 5000;

export class Feed {
  readonly recent: LiveEvent[] = [];
  state: FeedState = "connecting";
  detail = "";
  private readonly listeners = new Set<Listener>();
  private abort?: AbortController;
  private closeTimer?: ReturnType<typeof setTimeout>;
  private retryMs = 500;
  private stopped = false;

  constructor(readonly path: string) {
    void this.run();
  }

  listen(l: Listener): () => void {
    clearTimeout(this.closeTimer);
    this.listeners.add(l);
    l.onState?.(this.state, this.detail);
    return () => {
      this.listeners.delete(l);
      if (!this.listeners.size) this.closeTimer = setTimeout(() => this.close(), CLOSE_GRACE_MS);
    };
  }

  close(): void {
    this.stopped = true;
    this.abort?.abort();
    feeds.delete(this.path);
    this.setState("closed");
  }

  private setState(s: FeedState, detail = ""): void {
    this.state = s;
    this.detail = detail;
    for (const l of this.listeners) l.onState?.(s, detail);
  }

  private async run(): Promise<void> {
    let first = true;
    while (!this.stopped) {
      this.abort = new AbortController();
      try {
        const res = await fetch(this.path, { headers: { Authorization: `Bearer ${auth.key() ?? ""}`, Accept: "text/event-stream" }, signal: this.abort.signal, cache: "no-store" });
        if (!res.ok || !res.body) {
          const err = errorOf(res.status, await res.json().catch(() => undefined));
          if (res.status === 401) reportHealth({ kind: "unauthorized", message: err.message });
          if (res.status === 401 || res.status === 403 || res.status === 400) {
            this.setState("closed", err.message);
            return;
          }
          throw err;
        }
        reportHealth({ kind: "up" });
        this.retryMs = 500;
        this.setState("live");
        if (!first) for (const l of this.listeners) l.onResync?.();
        first = false;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const frame of parser.push(value)) this.dispatch(frame.data);
        }
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof TypeError) reportHealth({ kind: "down", message: `The gateway cannot be reached (${err.message})` });
      }
      if (this.stopped) return;
      first = false;
      this.setState("retrying", `reconnecting in ${Math.round(this.retryMs / 100) / 10} s`);
      await new Promise((r) => setTimeout(r, this.retryMs));
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    }
  }

  private dispatch(data: string): void {
    let event: LiveEvent;
    try {
      event = JSON.parse(data) as LiveEvent;
    } catch {
      return;
    }
    this.recent.push(event);
    if (this.recent.length > RECENT) this.recent.splice(0, this.recent.length - RECENT);
    for (const l of this.listeners) l.onEvent(event);
  }
}

const feeds = new Map<string, Feed>();

/** The shared live feed of a workspace's events. */
export function workspaceFeed(workspaceId: string): Feed {
  const path = `/api/v1/workspaces/${encodeURIComponent(workspaceId)}/events`;
  let f = feeds.get(path);
  if (!f) feeds.set(path, (f = new Feed(path)));
  return f;
}

/** Every open feed ends (sign-out). */
export function closeAllFeeds(): void {
  for (const f of [...feeds.values()]) f.close();
}

/** The cluster's own events (wa.cluster.failover, wa.cluster.capacity): admin keys only. */
export function clusterFeed(): Feed {
  const path = "/api/v1/cluster/events";
  let f = feeds.get(path);
  if (!f) feeds.set(path, (f = new Feed(path)));
  return f;
}
