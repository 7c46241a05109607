// A workspace's sessions kept current from its event stream: the list is read once (and again
// after a reconnect), then each wa.session.* event updates its row (session-rows.ts, which also
// keeps events that arrive during a read). Events are applied in batches once per animation
// frame, so a failover's burst of thousands of events costs a few renders.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ok, type Session } from "../api/client";
import { workspaceFeed, type FeedState, type LiveEvent } from "../api/feed";
import { SessionRows } from "./session-rows";

export { applyEvent } from "./session-rows";

export interface LiveSessions {
  sessions: Session[];
  loaded: boolean;
  failure: unknown;
  feed: FeedState;
  upsert(s: Session): void;
  remove(sessionId: string): void;
  reload(): Promise<void>;
}

export function useLiveSessions(workspaceId: string): LiveSessions {
  const rows = useRef(new SessionRows<Session>());
  const queue = useRef<LiveEvent[]>([]);
  const frame = useRef(0);
  const [version, setVersion] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [failure, setFailure] = useState<unknown>(undefined);
  const [feed, setFeed] = useState<FeedState>("connecting");

  const bump = () => setVersion((v) => v + 1);

  const reload = async () => {
    const token = rows.current.listStarted();
    try {
      const list = await ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions", { params: { path: { workspaceId } } }));
      rows.current.listAnswered(token, list);
      setFailure(undefined);
    } catch (err) {
      rows.current.listEnded(token);
      setFailure(err);
    } finally {
      setLoaded(true);
      bump();
    }
  };

  /** A session the list does not know yet (created elsewhere): read it once. */
  const fetchOne = (sessionId: string) => {
    if (!rows.current.readStarted(sessionId)) return;
    void ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}", { params: { path: { workspaceId, sessionId } } }))
      .then((s) => {
        rows.current.readAnswered(s);
        bump();
      })
      .catch(() => rows.current.readFailed(sessionId));
  };

  useEffect(() => {
    rows.current = new SessionRows<Session>();
    void reload();
    const flush = () => {
      frame.current = 0;
      const events = queue.current;
      queue.current = [];
      for (const id of rows.current.apply(events)) fetchOne(id);
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

  const sessions = useMemo(() => rows.current.sorted(), [version]);
  return {
    sessions,
    loaded,
    failure,
    feed,
    upsert(s) {
      rows.current.upsert(s);
      bump();
    },
    remove(id) {
      rows.current.remove(id);
      bump();
    },
    reload,
  };
}
