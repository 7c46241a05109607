// One session: its status live, the actions (start, stop, restart, log out, delete), the QR shown
// large and refreshed as it rotates until the session is WORKING, pairing by phone number, the
// simulated phone (only against the simulated network), sending, and its recent events.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, describe, ok, type Me, type Session } from "../api/client";
import { workspaceFeed, type FeedState, type LiveEvent } from "../api/feed";
import { useConfirm } from "../components/Confirm";
import { Notice } from "../components/Notice";
import { StatusBadge } from "../components/StatusBadge";
import { useAction } from "../components/useAsync";
import { clock, time } from "../format";
import { applyEvent } from "../live/sessions";
import { href, navigate } from "../router";
import { errorPageFor } from "./ErrorPage";
import { engineOf, FeedIndicator } from "./Workspace";
import { SendForm } from "./SendForm";

const SESSION_EVENTS = 50;
const ACTIONS = {
  start: "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/start",
  stop: "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/stop",
  restart: "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/restart",
  logout: "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/logout",
} as const;
const DONE = { start: "Started", stop: "Stopped", restart: "Restarted", logout: "Logged out" } as const;

export function SessionPage({ workspaceId, sessionId, me }: { workspaceId: string; sessionId: string; me: Me }) {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [qrTick, setQrTick] = useState(0);
  const current = useRef<Session | undefined>(undefined);
  const action = useAction();
  const [dialog, confirm] = useConfirm();
  const path = { workspaceId, sessionId };

  // A read and the event stream race: an event may arrive while a read is in flight, and the read's
  // answer may predate it. Such an event marks the read stale and the session is read once more, so
  // the page never settles on a state older than the last event it saw.
  const loading = useRef<Promise<void> | undefined>(undefined);
  const stale = useRef(false);
  const load = (): Promise<void> => {
    if (loading.current) {
      stale.current = true;
      return loading.current;
    }
    const run = async () => {
      do {
        stale.current = false;
        try {
          const s = await ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}", { params: { path } }));
          current.current = s;
          setSession(s);
          setFailure(undefined);
        } catch (err) {
          setFailure(err);
        }
      } while (stale.current);
    };
    loading.current = run().finally(() => (loading.current = undefined));
    return loading.current;
  };

  useEffect(() => {
    void load();
    const f = workspaceFeed(workspaceId);
    setEvents(f.recent.filter((e) => e.sessionId === sessionId).slice(-SESSION_EVENTS).reverse());
    return f.listen({
      onEvent(e) {
        if (e.sessionId !== sessionId) return;
        setEvents((list) => [e, ...list].slice(0, SESSION_EVENTS));
        if (loading.current) stale.current = true;
        if (current.current) {
          const m = new Map([[sessionId, current.current]]);
          applyEvent(m, e);
          current.current = m.get(sessionId);
          setSession(current.current);
        }
        if (e.event === "wa.session.qr") setQrTick((t) => t + 1);
      },
      onResync: () => void load(),
      onState: setFeed,
    });
  }, [workspaceId, sessionId]);

  if (failure && !session) return errorPageFor(failure, load);
  if (!session) return <p class="muted">Loading…</p>;

  const act = (name: keyof typeof ACTIONS) =>
    action.run(name, async () => {
      const s = await ok(api.POST(ACTIONS[name], { params: { path } }));
      current.current = s;
      setSession(s);
      return `${DONE[name]}: the session is ${s.status}.`;
    });

  const logout = async () => {
    if (await confirm(`Log out ${sessionId}?`, <p>This unlinks the WhatsApp device and deletes its credentials. Linking again needs a new QR scan.</p>, "Log out")) await act("logout");
  };
  const remove = async () => {
    const ok2 = await confirm(
      `Delete ${sessionId}?`,
      <p>
        This stops the session, unlinks its WhatsApp device and deletes its data from <strong>{workspaceId}</strong>. It cannot be undone.
      </p>,
      "Delete session",
    );
    if (!ok2) return;
    const done = await action.run("delete", async () => {
      await ok(api.DELETE("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}", { params: { path } }));
    });
    if (done) navigate(href.workspace(workspaceId));
  };

  const s = session;
  const busy = action.busy !== "";
  return (
    <section aria-labelledby="session-title">
      {dialog}
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.workspace(workspaceId)}>{workspaceId}</a> / <span aria-current="page">{sessionId}</span>
      </nav>
      <div class="page-head">
        <h1 id="session-title">
          {sessionId} <StatusBadge status={s.status} />
        </h1>
        <FeedIndicator state={feed} />
      </div>
      <dl class="facts">
        <dt>Node</dt>
        <dd data-testid="session-node">{s.node}</dd>
        <dt>Engine</dt>
        <dd>{engineOf(s)}</dd>
        <dt>Phone</dt>
        <dd data-testid="session-phone">{s.me ? `+${s.me.phone}${s.me.pushname ? ` (${s.me.pushname})` : ""}` : "not linked"}</dd>
        <dt>Desired</dt>
        <dd>{s.desired}</dd>
        {s.accountId && (
          <>
            <dt>Account</dt>
            <dd>{s.accountId}</dd>
          </>
        )}
        {s.reason && (
          <>
            <dt>Reason</dt>
            <dd>{s.reason}</dd>
          </>
        )}
        <dt>Updated</dt>
        <dd>{time(s.updatedAt)}</dd>
      </dl>
      <div class="row wrap" role="group" aria-label="Session actions">
        <button type="button" onClick={() => act("start")} disabled={busy}>
          Start
        </button>
        <button type="button" onClick={() => act("stop")} disabled={busy}>
          Stop
        </button>
        <button type="button" onClick={() => act("restart")} disabled={busy}>
          Restart
        </button>
        <button type="button" onClick={logout} disabled={busy}>
          Log out
        </button>
        <button type="button" class="danger" onClick={remove} disabled={busy}>
          Delete
        </button>
        <a class="button" href={href.chats(workspaceId, sessionId)}>
          Chats
        </a>
      </div>
      {action.busy && <p class="muted">Working on it ({action.busy})…</p>}
      {action.error && (
        <Notice kind="error" onClose={action.clear}>
          {action.error}
        </Notice>
      )}
      {action.message && (
        <Notice kind="ok" onClose={action.clear}>
          {action.message}
        </Notice>
      )}
      <div class="panels">
        {(s.status === "SCAN_QR_CODE" || (s.status === "STARTING" && !s.me)) && <LinkPanel workspaceId={workspaceId} sessionId={sessionId} status={s.status} tick={qrTick} simulation={me.simulation} />}
        {s.status === "WORKING" && <SendForm workspaceId={workspaceId} sessionId={sessionId} />}
        <EventsPanel events={events} />
      </div>
    </section>
  );
}

const PAIRING_PENDING = "A pairing code is pending: type it on the phone. The QR no longer links; restart the session for a new one.";

/** The gateway's 409 QR_NOT_AVAILABLE names a pending pairing code in details.reason. */
function pairingPending(err: ApiError): boolean {
  return (err.details as { reason?: unknown } | undefined)?.reason === "PAIRING_CODE_PENDING";
}

/** The QR (large, refreshed on every wa.session.qr and at its expiry), the simulated phone, and pairing by code. */
function LinkPanel({ workspaceId, sessionId, status, tick, simulation }: { workspaceId: string; sessionId: string; status: string; tick: number; simulation: boolean }) {
  const [qr, setQr] = useState<{ image: string; expiresAt: number } | null>(null);
  const [qrError, setQrError] = useState("");
  const [phone, setPhone] = useState(() => `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`);
  const [pairPhone, setPairPhone] = useState("");
  const [code, setCode] = useState("");
  const action = useAction();
  const path = { workspaceId, sessionId };

  useEffect(() => {
    if (status !== "SCAN_QR_CODE") {
      setQr(null);
      return;
    }
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fetchQr = async () => {
      try {
        const r = await ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/qr", { params: { path }, headers: { Accept: "application/json" } }));
        if (cancelled) return;
        if (typeof r !== "object") throw new Error("The gateway sent the QR as an image instead of JSON");
        setQr({ image: r.image, expiresAt: r.expiresAt });
        setQrError("");
        // a rotation whose event was missed: read it again when this one expires
        timer = setTimeout(() => void fetchQr(), Math.max(1000, r.expiresAt - Date.now() + 250));
      } catch (err) {
        if (cancelled) return;
        if (err instanceof ApiError && err.code === "QR_NOT_AVAILABLE") {
          // the QR shown so far is void (expired, or the session links by pairing code now)
          setQr(null);
          setQrError(pairingPending(err) ? PAIRING_PENDING : "Waiting for a QR…");
        } else setQrError(describe(err));
      }
    };
    void fetchQr();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [status, tick]);

  const scan = (e: Event) => {
    e.preventDefault();
    void action.run("scan", async () => {
      const r = await ok(api.POST("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/simulated-scan", { params: { path }, body: { phone } }));
      return `Scanned by the simulated phone +${r.phone}; the session is connecting.`;
    });
  };
  const pair = (e: Event) => {
    e.preventDefault();
    void action.run("pair", async () => {
      const r = await ok(api.POST("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/pairing-code", { params: { path }, body: { phoneNumber: pairPhone } }));
      setCode(r.code);
      // the network takes no QR once it gave a code: stop showing the old one
      setQr(null);
      setQrError(PAIRING_PENDING);
    });
  };

  return (
    <section class="card link-panel" aria-labelledby="link-title">
      <h2 id="link-title">Link a phone</h2>
      <div class="link-grid">
        <div>
          {qr ? (
            <figure class="qr">
              <img src={qr.image} alt="QR code to scan in WhatsApp (Settings, Linked devices)" width={320} height={320} data-testid="qr" />
              <figcaption class="muted small">Open WhatsApp on the phone, Linked devices, Link a device, and scan. It rotates by itself.</figcaption>
            </figure>
          ) : (
            <p class="muted qr-wait">{qrError || (status === "STARTING" ? "Starting: the QR comes in a moment…" : "Waiting for a QR…")}</p>
          )}
        </div>
        <div class="stack">
          {simulation && (
            <form class="stack" method="post" onSubmit={scan} aria-labelledby="sim-title">
              <h3 id="sim-title">Simulated network</h3>
              <p class="muted small">This gateway runs against wafleet's simulated WhatsApp network: a simulated phone can scan the QR for you.</p>
              <label for="sim-phone">Simulated phone number</label>
              <input id="sim-phone" inputMode="numeric" pattern="\+?[0-9]{5,20}" value={phone} onInput={(e) => setPhone((e.target as HTMLInputElement).value)} required />
              <button type="submit" class="primary" disabled={!qr || action.busy !== ""}>
                Scan with a simulated phone
              </button>
            </form>
          )}
          <form class="stack" method="post" onSubmit={pair} aria-labelledby="pair-title">
            <h3 id="pair-title">Or link with a code</h3>
            <label for="pair-phone">Phone number (international, digits)</label>
            <input id="pair-phone" inputMode="numeric" pattern="\+?[0-9]{5,20}" placeholder="15550001111" value={pairPhone} onInput={(e) => setPairPhone((e.target as HTMLInputElement).value)} required />
            <button type="submit" disabled={action.busy !== ""}>
              Get a pairing code
            </button>
            {code && (
              <p>
                Type this code on the phone (Linked devices, Link with phone number): <strong class="code" data-testid="pairing-code">{code}</strong>
              </p>
            )}
          </form>
        </div>
      </div>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
    </section>
  );
}

function summary(e: LiveEvent): string {
  switch (e.event) {
    case "wa.session.status":
      return `${e.previous} → ${e.status}${e.reason ? ` (${e.reason})` : ""}`;
    case "wa.session.qr":
      return "new QR";
    case "wa.session.ready":
      return `ready as +${e.me.phone}`;
    case "wa.session.disconnected":
      return `disconnected: ${e.reason}`;
    case "wa.message.received":
      return `from ${e.message.from}: ${e.message.body || (e.message.media ? `[${e.message.media.mimetype}]` : "")}`;
    case "wa.message.ack":
      return `${e.messageId}: ${e.ack}`;
    default:
      return "";
  }
}

function EventsPanel({ events }: { events: LiveEvent[] }) {
  return (
    <section class="card" aria-labelledby="events-title">
      <h2 id="events-title">Recent events</h2>
      {events.length ? (
        <ol class="events" aria-live="polite" data-testid="session-events">
          {events.map((e) => (
            <li key={e.id}>
              <time dateTime={e.timestamp}>{clock(e.timestamp)}</time> <code>{e.event}</code> <span>{summary(e)}</span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted">No events since this page opened. They appear here as they happen.</p>
      )}
    </section>
  );
}
