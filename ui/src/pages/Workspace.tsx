// A workspace's sessions, live: status, node, engine and phone of each, a filter, paging (one page
// of rows in the DOM however many sessions there are), and the form that creates a session.
import { useMemo, useState } from "preact/hooks";
import { api, ok, type Me, type Session } from "../api/client";
import { Notice } from "../components/Notice";
import { PagerNav, usePage } from "../components/Pager";
import { StatusBadge } from "../components/StatusBadge";
import { useAction } from "../components/useAsync";
import { time } from "../format";
import { useLiveSessions } from "../live/sessions";
import { href, navigate } from "../router";
import { errorPageFor } from "./ErrorPage";

const STATUSES = ["STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED"] as const;
export const PAGE_SIZE = 50;

/** The engine a session runs on, where the API says (per-session engines); else the gateway cannot tell. */
export function engineOf(s: Session): string {
  return s.engine ?? "–";
}

export function FeedIndicator({ state }: { state: string }) {
  const label = state === "live" ? "Live" : state === "retrying" ? "Reconnecting…" : state === "closed" ? "Not live" : "Connecting…";
  return (
    <span class={`feed feed-${state}`} role="status" aria-live="polite">
      <span class="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function WorkspacePage({ workspaceId, me }: { workspaceId: string; me: Me }) {
  const live = useLiveSessions(workspaceId);
  const [filter, setFilter] = useState("");
  const [status, setStatus] = useState("");
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return live.sessions.filter((s) => (!status || s.status === status) && (!f || s.sessionId.toLowerCase().includes(f) || (s.me?.phone ?? "").includes(f) || (s.accountId ?? "").toLowerCase().includes(f)));
  }, [live.sessions, filter, status]);
  const page = usePage(rows, PAGE_SIZE, `${filter}|${status}`);
  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const s of live.sessions) c[s.status] = (c[s.status] ?? 0) + 1;
    return c;
  }, [live.sessions]);

  if (live.failure && !live.sessions.length) return errorPageFor(live.failure, live.reload);
  return (
    <section aria-labelledby="ws-title">
      <div class="page-head">
        <h1 id="ws-title">
          Sessions <span class="muted">of {workspaceId}</span>
        </h1>
        <FeedIndicator state={live.feed} />
      </div>
      <CreateSession workspaceId={workspaceId} onCreated={(s) => (live.upsert(s), navigate(href.session(workspaceId, s.sessionId)))} />
      <div class="row wrap" role="group" aria-label="Filter sessions">
        <label for="session-filter">Filter</label>
        <input id="session-filter" type="search" placeholder="session, phone or account" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        <label for="status-filter">Status</label>
        <select id="status-filter" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any ({live.sessions.length})</option>
          {STATUSES.map((s) => (
            <option value={s} key={s}>
              {s} ({counts[s] ?? 0})
            </option>
          ))}
        </select>
      </div>
      {!live.loaded ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <div class="table-wrap">
            <table class="table" data-testid="sessions">
              <caption class="sr-only">Sessions of {workspaceId}</caption>
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">Status</th>
                  <th scope="col">Node</th>
                  <th scope="col">Engine</th>
                  <th scope="col">Phone</th>
                  <th scope="col" class="hide-narrow">
                    Desired
                  </th>
                  <th scope="col" class="hide-narrow">
                    Updated
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.rows.map((s) => (
                  <tr key={s.sessionId} data-session={s.sessionId}>
                    <td>
                      <a href={href.session(workspaceId, s.sessionId)}>{s.sessionId}</a>
                      {s.accountId && <span class="muted small"> · account {s.accountId}</span>}
                    </td>
                    <td>
                      <StatusBadge status={s.status} />
                    </td>
                    <td>{s.node}</td>
                    <td>{engineOf(s)}</td>
                    <td>{s.me?.phone ? `+${s.me.phone}` : "–"}</td>
                    <td class="hide-narrow">{s.desired}</td>
                    <td class="hide-narrow">{time(s.updatedAt)}</td>
                  </tr>
                ))}
                {!rows.length && (
                  <tr>
                    <td colSpan={7} class="muted">
                      {live.sessions.length ? "No session matches the filter." : "No sessions yet: create one above."}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <PagerNav label="sessions" {...page} total={rows.length} />
        </>
      )}
      {me.kind === "admin" && (
        <p class="muted small">
          <a href={href.webhook(workspaceId)}>Webhooks of {workspaceId}</a>
        </p>
      )}
    </section>
  );
}

type CreateEngine = "baileys" | "wwebjs" | "simulator";
/** The engines a session may be created on (the session nodes answer ENGINE_NOT_INSTALLED for one they lack). */
const CREATE_ENGINES: CreateEngine[] = ["baileys", "wwebjs", "simulator"];

function CreateSession({ workspaceId, onCreated }: { workspaceId: string; onCreated(s: Session): void }) {
  const [sessionId, setSessionId] = useState("");
  const [accountId, setAccountId] = useState("");
  const [start, setStart] = useState(true);
  const [engine, setEngine] = useState<"" | CreateEngine>("");
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run("create", async () => {
      const s = await ok(
        api.POST("/api/v1/workspaces/{workspaceId}/sessions", {
          params: { path: { workspaceId } },
          body: { ...(sessionId ? { sessionId } : {}), ...(accountId ? { accountId } : {}), ...(engine ? { engine } : {}), start },
        }),
      );
      setSessionId("");
      setAccountId("");
      onCreated(s);
    });
  };
  return (
    <details class="card" open={false}>
      <summary>New session</summary>
      <form class="form-grid" method="post" onSubmit={submit}>
        <label for="new-session-id">Session id</label>
        <input id="new-session-id" placeholder="generated when empty" pattern="[A-Za-z0-9_\-]{1,64}" value={sessionId} onInput={(e) => setSessionId((e.target as HTMLInputElement).value)} />
        <label for="new-account-id">Account id</label>
        <input id="new-account-id" placeholder="optional: your app's id for it" maxLength={128} value={accountId} onInput={(e) => setAccountId((e.target as HTMLInputElement).value)} />
        <label for="new-session-engine">Engine</label>
        <select id="new-session-engine" value={engine} onChange={(e) => setEngine((e.target as HTMLSelectElement).value as "" | CreateEngine)}>
          <option value="">the nodes' default (WA_ENGINE)</option>
          {CREATE_ENGINES.map((e) => (
            <option value={e}>{e}</option>
          ))}
        </select>
        <span />
        <label class="check">
          <input type="checkbox" checked={start} onChange={(e) => setStart((e.target as HTMLInputElement).checked)} /> Start it now
        </label>
        <span />
        <div>
          <button type="submit" class="primary" disabled={action.busy !== ""}>
            {action.busy ? "Creating…" : "Create session"}
          </button>
        </div>
      </form>
      {action.error && <Notice kind="error">{action.error}</Notice>}
    </details>
  );
}
