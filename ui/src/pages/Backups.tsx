// Backups (admin): snapshots with their verification state, a snapshot now, verify now, and
// restoring one workspace after a confirmation that names the sessions it will stop.
import { useState } from "preact/hooks";
import { api, ok, type SnapshotManifest, type SnapshotSummary } from "../api/client";
import { useConfirm } from "../components/Confirm";
import { Notice } from "../components/Notice";
import { PagerNav, usePage } from "../components/Pager";
import { useAction, useLoad } from "../components/useAsync";
import { bytes, time } from "../format";
import { errorPageFor } from "./ErrorPage";

export function BackupsPage() {
  const list = useLoad(() => ok(api.GET("/api/v1/backups")), []);
  const [open, setOpen] = useState<SnapshotManifest | null>(null);
  const action = useAction();
  const rows = list.data ?? [];
  const page = usePage(rows, 25, "");

  if (list.failure && !list.data) return errorPageFor(list.failure, list.reload);
  const now = () =>
    action.run("snapshot", async () => {
      const r = await ok(api.POST("/api/v1/backups"));
      await list.reload();
      return `Snapshot ${r.snapshot}: ${r.totals.sessions} sessions in ${r.totals.workspaces} workspaces, ${r.verified ? "verified" : "NOT verified"}.`;
    });
  const verify = (s: SnapshotSummary) =>
    action.run(`verify ${s.id}`, async () => {
      const r = await ok(api.POST("/api/v1/backups/{snapshot}/verify", { params: { path: { snapshot: s.id } } }));
      await list.reload();
      if (!r.ok) throw new Error(`Snapshot ${s.id} failed verification: ${r.archives.filter((a) => !a.ok).map((a) => `${a.workspaceId}: ${a.error ?? "mismatch"}`).join("; ")}`);
      return `Snapshot ${s.id} verified: ${r.archives.length} archives intact.`;
    });
  const show = (s: SnapshotSummary) =>
    action.run(`open ${s.id}`, async () => {
      setOpen(await ok(api.GET("/api/v1/backups/{snapshot}", { params: { path: { snapshot: s.id } } })));
    });

  return (
    <section aria-labelledby="backups-title">
      <div class="page-head">
        <h1 id="backups-title">Backups</h1>
        <div class="row">
          <button type="button" onClick={() => list.reload()} disabled={list.loading}>
            Refresh
          </button>
          <button type="button" class="primary" onClick={now} disabled={action.busy !== ""}>
            Snapshot now
          </button>
        </div>
      </div>
      {action.busy && <p role="status">Working on it ({action.busy})…</p>}
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
      <div class="table-wrap">
        <table class="table" data-testid="snapshots">
          <thead>
            <tr>
              <th scope="col">Snapshot</th>
              <th scope="col">Taken</th>
              <th scope="col">State</th>
              <th scope="col">Size</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.rows.map((s) => (
              <tr key={s.id}>
                <td>
                  <code>{s.id}</code>
                </td>
                <td>{time(s.time)}</td>
                <td>
                  <span class={`badge ${s.verified ? "ok" : s.complete ? "warn" : "bad"}`}>{s.verified ? "verified" : s.complete ? "complete, not verified" : "incomplete"}</span>
                </td>
                <td>
                  {bytes(s.bytes)} in {s.objects} objects
                </td>
                <td class="end row tight">
                  <button type="button" onClick={() => verify(s)} disabled={!s.complete || action.busy !== ""} aria-label={`Verify ${s.id}`}>
                    Verify now
                  </button>
                  <button type="button" onClick={() => show(s)} disabled={!s.complete || action.busy !== ""} aria-label={`Restore from ${s.id}`}>
                    Restore…
                  </button>
                </td>
              </tr>
            ))}
            {!rows.length && !list.loading && (
              <tr>
                <td colSpan={5} class="muted">
                  No snapshots yet{list.error ? ` (${list.error})` : ""}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <PagerNav label="snapshots" {...page} total={rows.length} />
      {open && <Restore manifest={open} onClose={() => setOpen(null)} />}
    </section>
  );
}

function Restore({ manifest, onClose }: { manifest: SnapshotManifest; onClose(): void }) {
  const [workspaceId, setWorkspaceId] = useState(manifest.archives[0]?.workspaceId ?? "");
  const [dialog, confirm] = useConfirm();
  const action = useAction();
  const archive = manifest.archives.find((a) => a.workspaceId === workspaceId);

  const restore = async (e: Event) => {
    e.preventDefault();
    if (!archive) return;
    const names = archive.sessions.map((s) => s.sessionId);
    const yes = await confirm(
      `Restore ${workspaceId} from ${manifest.id}?`,
      <>
        <p>
          These sessions of <strong>{workspaceId}</strong> will be stopped, replaced by the snapshot's copy, and started again if they were running:
        </p>
        <ul data-testid="restore-sessions">
          {names.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
        <p>Other sessions and workspaces are not touched. The snapshot is verified first; nothing is restored if it does not match.</p>
      </>,
      `Stop and restore ${names.length} session${names.length === 1 ? "" : "s"}`,
    );
    if (!yes) return;
    await action.run("restore", async () => {
      const r = await ok(api.POST("/api/v1/backups/{snapshot}/restore", { params: { path: { snapshot: manifest.id } }, body: { workspaceId } }));
      const outcomes = r.workspaces.flatMap((w) => w.sessions.map((s) => `${s.sessionId}: ${s.outcome}`));
      return `Restored in ${Math.round(r.durationMs)} ms: ${outcomes.join(", ")}.`;
    });
  };

  return (
    <section class="card" aria-labelledby="restore-title">
      {dialog}
      <div class="page-head">
        <h2 id="restore-title">Restore from {manifest.id}</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <p class="muted small">
        Taken {time(manifest.createdAt)}: {manifest.totals.workspaces} workspaces, {manifest.totals.sessions} sessions, {bytes(manifest.totals.bytes)}.
      </p>
      <form class="row wrap" method="post" onSubmit={restore}>
        <label for="restore-ws">Workspace</label>
        <select id="restore-ws" value={workspaceId} onChange={(e) => setWorkspaceId((e.target as HTMLSelectElement).value)}>
          {manifest.archives.map((a) => (
            <option key={a.workspaceId} value={a.workspaceId}>
              {a.workspaceId} ({a.sessions.length} sessions)
            </option>
          ))}
        </select>
        <button type="submit" class="danger" disabled={!archive || action.busy !== ""}>
          Restore workspace…
        </button>
      </form>
      {action.busy && <p role="status">Restoring…</p>}
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
    </section>
  );
}
