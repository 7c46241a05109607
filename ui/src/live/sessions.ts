// A workspace's sessions kept current from its event stream: the list is read once (and again
// after a reconnect), then each wa.session.* event updates its row. Events are applied in batches
// once per animation frame, so a failover's burst of thousands of events costs a few renders.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ok, type Session } from "../api/client";
import { workspaceFeed, type FeedState, type LiveEvent } from "../api/feed";

export interface LiveSessions {
  sessions: Session[];
  loaded: boolean;
  failure: unknown;
  feed: FeedState;
  upsert(s: Session): void;
  remove(sessionId: string): void;
  reload(): Promise<void>;
}

/** Applies one event to a session row; returns false when the row is unknown. */
export function applyEvent(map: Map<string, Session>, e: LiveEvent): boolean {
  const s = map.get(e.sessionId);
  if (!s) return false;
  switch (e.event) {
    case "wa.session.status":
      map.set(e.sessionId, { ...s, status: e.status, node: e.node, reason: e.reason ?? null, me: e.status === "SCAN_QR_CODE" ? null : s.me });
      break;
    case "wa.session.ready":
      map.set(e.sessionId, { ...s, status: "WORKING", node: e.node, me: e.me });
      break;
    case "wa.session.qr":
      if (s.status !== "SCAN_QR_CODE") map.set(e.sessionId, { ...s, status: "SCAN_QR_CODE", node: e.node });
      break;
    default:
      if (s.node !== e.node) map.set(e.sessionId, { ...s, node: e.node });
  }
  return true;
}

export function useLiveSessions(workspaceId: string): LiveSessions {
  const map = useRef(new Map<string, Session>());
  const queue = useRef<LiveEvent[]>([]);
  const frame = useRef(0);
  const fetching = useRef(new Set<string>());
  const [version, setVersion] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [failure, setFailure] = useState<unknown>(undefined);
  const [feed, setFeed] = useState<FeedState>("connecting");

  const bump = () => setVersion((v) => v + 1);

  const reload = async () => {
    try {
      const list = await ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions", { params: { path: { workspaceId } } }));
      map.current = new Map(list.map((s) => [s.sessionId, s]));
      setFailure(undefined);
    } catch (err) {
      setFailure(err);
    } finally {
      setLoaded(true);
      bump();
    }
  };

  /** A session the list does not know yet (created elsewhere): read it once. */
  const fetchOne = (sessionId: string) => {
    if (fetching.current.has(sessionId)) return;
    fetching.current.add(sessionId);
    void ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}", { params: { path: { workspaceId, sessionId } } }))
      .then((s) => {
        map.current.set(s.sessionId, s);
        bump();
      })
      .catch(() => undefined)
      .finally(() => fetching.current.delete(sessionId));
  };

  useEffect(() => {
    void reload();
    const flush = () => {
      frame.current = 0;
      const events = queue.current;
      queue.current = [];
      for (const e of events) if (!applyEvent(map.current, e) && e.event.startsWith("wa.session.")) fetchOne(e.sessionId);
      bump();
    };
    const stop = workspaceFeed(workspaceId).listen({
      onEvent(e) {
        queue.current.push(e);
        if (!frame.current) frame.current = requestAnimationFrame(flush);
      },
      onResync: () => void reload(),
      onState: (s) => setFeed(s),
    });
    return () => {
      stop();
      if (frame.current) cancelAnimationFrame(frame.current);
    };
  }, [workspaceId]);

  const sessions = useMemo(() => [...map.current.values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0)), [version]);
  return {
    sessions,
    loaded,
    failure,
    feed,
    upsert(s) {
      map.current.set(s.sessionId, s);
      bump();
    },
    remove(id) {
      map.current.delete(id);
      bump();
    },
    reload,
  };
}
