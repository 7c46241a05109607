// Every workspace's dead letters (admin), newest first, paged back with `before`; each replays
// through its own workspace's retry route.
import { useState } from "preact/hooks";
import { api, ok, type Delivery } from "../api/client";
import { Notice } from "../components/Notice";
import { useAction, useLoad } from "../components/useAsync";
import { errorPageFor } from "./ErrorPage";
import { DeliveryTable } from "./Webhook";

const PAGE = 100;

export function DeadLettersPage() {
  const [before, setBefore] = useState<number[]>([]);
  const cursor = before[before.length - 1];
  const list = useLoad(() => ok(api.GET("/api/v1/webhooks/dead-letters", { params: { query: { limit: PAGE, ...(cursor !== undefined ? { before: cursor } : {}) } } })), [cursor]);
  const action = useAction();
  if (list.failure && !list.data) return errorPageFor(list.failure, list.reload);
  const rows = list.data ?? [];
  const replay = (d: Delivery) =>
    action.run(`replay ${d.id}`, async () => {
      await ok(api.POST("/api/v1/workspaces/{workspaceId}/webhook/deliveries/{deliveryId}/retry", { params: { path: { workspaceId: d.workspaceId, deliveryId: d.id } } }));
      list.set(rows.filter((x) => x.id !== d.id));
      return `Replaying ${d.event} of ${d.workspaceId}.`;
    });
  const last = rows[rows.length - 1];
  return (
    <section aria-labelledby="dl-title">
      <div class="page-head">
        <h1 id="dl-title">Dead letters</h1>
        <button type="button" onClick={() => list.reload()} disabled={list.loading}>
          Refresh
        </button>
      </div>
      <p class="muted">Webhook deliveries that failed for good, across every workspace. Fix the receiver, then replay.</p>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
      <DeliveryTable rows={rows} onReplay={replay} busy={action.busy !== ""} showWorkspace />
      <nav class="pager" aria-label="Dead letter pages">
        <button type="button" disabled={!before.length} onClick={() => setBefore((b) => b.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={rows.length < PAGE || !last} onClick={() => last && setBefore((b) => [...b, Date.parse(last.updatedAt)])}>
          Older
        </button>
      </nav>
    </section>
  );
}
