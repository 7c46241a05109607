// A workspace's webhook: its settings (set, rotate the secret: shown once, remove) and its
// deliveries by status, with the dead letters replayed one at a time or all at once.
import { useMemo, useState } from "preact/hooks";
import { api, ApiError, ok, type Delivery, type Webhook } from "../api/client";
import type { paths } from "../api/openapi.gen";
import { useConfirm } from "../components/Confirm";
import { Notice } from "../components/Notice";
import { PagerNav, usePage } from "../components/Pager";
import { useAction, useLoad } from "../components/useAsync";
import { time } from "../format";
import { href } from "../router";
import { errorPageFor } from "./ErrorPage";

type SetBody = paths["/api/v1/workspaces/{workspaceId}/webhook"]["put"]["requestBody"]["content"]["application/json"];
type EventFilter = NonNullable<SetBody["events"]>[number];
/** Every event type a webhook can ask for, "*" first; the compiler checks it against the API's enum both ways. */
const EVENT_TYPES = ["*", "wa.session.status", "wa.session.qr", "wa.session.ready", "wa.session.disconnected", "wa.message.received", "wa.message.ack", "wa.message.sent", "wa.message.edited", "wa.message.revoked", "wa.message.reaction", "wa.poll.vote", "wa.presence", "wa.group.update", "wa.call.received", "wa.call.rejected", "wa.label.update", "wa.outbox.sent", "wa.outbox.failed", "wa.outbox.paused", "wa.cluster.failover", "wa.cluster.capacity"] as const satisfies readonly EventFilter[];
const everyEventListed: Exclude<EventFilter, (typeof EVENT_TYPES)[number]> extends never ? true : never = true;
void everyEventListed;

/** A Standard Webhooks secret made in the browser (32 random bytes), so a rotation is shown once and only here. */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

export function WebhookPage({ workspaceId }: { workspaceId: string }) {
  const path = { workspaceId };
  const hook = useLoad(async () => {
    try {
      return await ok(api.GET("/api/v1/workspaces/{workspaceId}/webhook", { params: { path } }));
    } catch (err) {
      if (err instanceof ApiError && err.code === "WEBHOOK_NOT_FOUND") return null;
      throw err;
    }
  }, [workspaceId]);

  if (hook.failure && hook.data === undefined) return errorPageFor(hook.failure, hook.reload);
  return (
    <section aria-labelledby="webhook-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.workspace(workspaceId)}>{workspaceId}</a> / <span aria-current="page">webhooks</span>
      </nav>
      <h1 id="webhook-title">
        Webhook <span class="muted">of {workspaceId}</span>
      </h1>
      {hook.data === undefined ? <p class="muted">Loading…</p> : <Settings workspaceId={workspaceId} hook={hook.data} onChange={(h) => hook.set(h)} />}
      <Deliveries workspaceId={workspaceId} />
    </section>
  );
}

function Settings({ workspaceId, hook, onChange }: { workspaceId: string; hook: Webhook | null; onChange(h: Webhook | null): void }) {
  const [url, setUrl] = useState(hook?.url ?? "");
  const [events, setEvents] = useState<EventFilter[]>((hook?.events as EventFilter[] | undefined) ?? ["*"]);
  const [secret, setSecret] = useState("");
  const action = useAction();
  const [dialog, confirm] = useConfirm();
  const path = { workspaceId };

  const put = async (body: SetBody) => {
    const r = await ok(api.PUT("/api/v1/workspaces/{workspaceId}/webhook", { params: { path }, body }));
    const { secret: generated, ...view } = r as Webhook & { secret?: string };
    onChange(view);
    return generated;
  };
  const save = (e: Event) => {
    e.preventDefault();
    void action.run("save", async () => {
      const generated = await put({ url, events: events.length ? events : ["*"] });
      if (generated) setSecret(generated);
      return generated ? "Saved. wafleet generated the signing secret below: copy it now, it is not shown again." : "Saved.";
    });
  };
  const rotate = async () => {
    if (!hook) return;
    if (!(await confirm("Rotate the signing secret?", <p>Deliveries are signed with the new secret from now on: your receiver must verify with it. The new secret is shown once.</p>, "Rotate", false))) return;
    await action.run("rotate", async () => {
      const next = newWebhookSecret();
      await put({ url: hook.url, events: hook.events as EventFilter[], secret: next });
      setSecret(next);
      return "Secret rotated: copy it now, it is not shown again.";
    });
  };
  const remove = async () => {
    if (!(await confirm("Remove the webhook?", <p>wafleet stops delivering {workspaceId}'s events to {hook?.url}.</p>, "Remove"))) return;
    await action.run("remove", async () => {
      await ok(api.DELETE("/api/v1/workspaces/{workspaceId}/webhook", { params: { path } }));
      onChange(null);
      return "Removed.";
    });
  };
  const toggle = (t: EventFilter, on: boolean) => setEvents((list) => (on ? [...list.filter((x) => (t === "*" ? false : x !== "*")), t] : list.filter((x) => x !== t)));

  return (
    <section class="card" aria-labelledby="settings-title">
      {dialog}
      <h2 id="settings-title">Settings</h2>
      {hook ? (
        <p class="muted small">
          Delivering to <strong>{hook.url}</strong> since {time(hook.createdAt)} (updated {time(hook.updatedAt)}); signing secret {hook.secretSet ? "set" : "not set"}
          {hook.headers.length ? `; extra headers: ${hook.headers.join(", ")}` : ""}.
        </p>
      ) : (
        <p class="muted">No webhook yet: set a URL and wafleet POSTs this workspace's events to it, signed (Standard Webhooks).</p>
      )}
      <form class="stack" method="post" onSubmit={save}>
        <label for="hook-url">URL</label>
        <input id="hook-url" type="url" placeholder="https://backend.example.com/wa/webhook" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} required />
        <fieldset>
          <legend>Events</legend>
          <div class="checks">
            {EVENT_TYPES.map((t) => (
              <label class="check" key={t}>
                <input type="checkbox" checked={events.includes(t)} onChange={(e) => toggle(t, (e.target as HTMLInputElement).checked)} /> {t === "*" ? "all events" : t}
              </label>
            ))}
          </div>
        </fieldset>
        <div class="row">
          <button type="submit" class="primary" disabled={action.busy !== ""}>
            Save
          </button>
          {hook && (
            <button type="button" onClick={rotate} disabled={action.busy !== ""}>
              Rotate secret
            </button>
          )}
          {hook && (
            <button type="button" class="danger" onClick={remove} disabled={action.busy !== ""}>
              Remove
            </button>
          )}
        </div>
      </form>
      {secret && (
        <div class="secret" role="status">
          <label for="hook-secret">Signing secret (shown once)</label>
          <div class="row">
            <input id="hook-secret" readOnly value={secret} onFocus={(e) => (e.target as HTMLInputElement).select()} />
            <button type="button" onClick={() => void navigator.clipboard?.writeText(secret)}>
              Copy
            </button>
            <button type="button" onClick={() => setSecret("")}>
              Hide
            </button>
          </div>
        </div>
      )}
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
    </section>
  );
}

function Deliveries({ workspaceId }: { workspaceId: string }) {
  const [status, setStatus] = useState<Delivery["status"]>("failed");
  const list = useLoad(() => ok(api.GET("/api/v1/workspaces/{workspaceId}/webhook/deliveries", { params: { path: { workspaceId }, query: { status, limit: 500 } } })), [workspaceId, status]);
  const action = useAction();
  const [progress, setProgress] = useState("");
  const rows = useMemo(() => list.data ?? [], [list.data]);
  const page = usePage(rows, 50, status);

  const replay = (d: Delivery) =>
    action.run(`replay ${d.id}`, async () => {
      await ok(api.POST("/api/v1/workspaces/{workspaceId}/webhook/deliveries/{deliveryId}/retry", { params: { path: { workspaceId, deliveryId: d.id } } }));
      list.set(rows.filter((x) => x.id !== d.id));
      return `Replaying ${d.event} (${d.id}).`;
    });
  const replayAll = () =>
    action.run("replay all", async () => {
      let done = 0;
      const failed: string[] = [];
      for (const d of rows) {
        setProgress(`Replaying ${done + 1} of ${rows.length}…`);
        try {
          await ok(api.POST("/api/v1/workspaces/{workspaceId}/webhook/deliveries/{deliveryId}/retry", { params: { path: { workspaceId, deliveryId: d.id } } }));
        } catch {
          failed.push(d.id);
        }
        done++;
      }
      setProgress("");
      await list.reload();
      if (failed.length) throw new Error(`${failed.length} of ${rows.length} could not be replayed (${failed.slice(0, 3).join(", ")}${failed.length > 3 ? ", …" : ""})`);
      return `Replaying ${rows.length} dead letters.`;
    });

  return (
    <section class="card" aria-labelledby="deliveries-title">
      <div class="page-head">
        <h2 id="deliveries-title">Deliveries</h2>
        <div class="row">
          <label for="delivery-status">Status</label>
          <select id="delivery-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as typeof status)}>
            <option value="failed">failed (dead letters)</option>
            <option value="pending">pending</option>
            <option value="delivered">delivered</option>
          </select>
          <button type="button" onClick={() => list.reload()} disabled={list.loading}>
            Refresh
          </button>
          {status === "failed" && rows.length > 0 && (
            <button type="button" class="primary" onClick={replayAll} disabled={action.busy !== ""}>
              Replay all ({rows.length})
            </button>
          )}
        </div>
      </div>
      {progress && <p role="status">{progress}</p>}
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
      {list.error && <Notice kind="error">{list.error}</Notice>}
      <DeliveryTable rows={page.rows} onReplay={status === "failed" ? replay : undefined} busy={action.busy !== ""} />
      <PagerNav label="deliveries" singular="delivery" {...page} total={rows.length} />
    </section>
  );
}

export function DeliveryTable({ rows, onReplay, busy, showWorkspace }: { rows: Delivery[]; onReplay?: (d: Delivery) => void; busy: boolean; showWorkspace?: boolean }) {
  return (
    <div class="table-wrap">
      <table class="table" data-testid="deliveries">
        <thead>
          <tr>
            {showWorkspace && <th scope="col">Workspace</th>}
            <th scope="col">Event</th>
            <th scope="col">Session</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last answer</th>
            <th scope="col">Updated</th>
            {onReplay && (
              <th scope="col">
                <span class="sr-only">Replay</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.id} data-delivery={d.id}>
              {showWorkspace && (
                <td>
                  <a href={href.webhook(d.workspaceId)}>{d.workspaceId}</a>
                </td>
              )}
              <td>
                <code>{d.event}</code>
                <div class="muted small">{d.id}</div>
              </td>
              <td>{d.sessionId}</td>
              <td>
                {d.attempts}
                {d.replays ? ` (replayed ${d.replays}×)` : ""}
              </td>
              <td>
                <span class="ellipsis" title={d.lastError ?? d.lastResponse}>
                  {d.lastStatus ? `HTTP ${d.lastStatus}` : (d.lastError ?? "–")}
                </span>
              </td>
              <td>{time(d.updatedAt)}</td>
              {onReplay && (
                <td class="end">
                  <button type="button" onClick={() => onReplay(d)} disabled={busy} aria-label={`Replay ${d.event} ${d.id}`}>
                    Replay
                  </button>
                </td>
              )}
            </tr>
          ))}
          {!rows.length && (
            <tr>
              <td colSpan={7} class="muted">
                Nothing here.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
