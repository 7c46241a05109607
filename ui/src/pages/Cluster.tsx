// The cluster (admin): every session node with its utilisation, capacity and memory, the
// workspaces each owns, drain and undrain, moving a workspace, and failovers as they happen
// (the cluster event stream). Node figures are re-read every few seconds while the page is shown.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ok, type ClusterNode, type ClusterView } from "../api/client";
import { clusterFeed, type FeedState, type LiveEvent } from "../api/feed";
import { useConfirm } from "../components/Confirm";
import { Notice } from "../components/Notice";
import { PagerNav, usePage } from "../components/Pager";
import { useAction } from "../components/useAsync";
import { ago, bytes, clock, percent, time } from "../format";
import { href } from "../router";
import { errorPageFor } from "./ErrorPage";
import { FeedIndicator } from "./Workspace";

const REFRESH_MS = 3000;

export function ClusterPage() {
  const [view, setView] = useState<ClusterView | undefined>(undefined);
  const [failure, setFailure] = useState<unknown>(undefined);
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [filter, setFilter] = useState("");
  const action = useAction();
  const [dialog, confirm] = useConfirm();

  const load = async () => {
    try {
      setView(await ok(api.GET("/api/v1/cluster")));
      setFailure(undefined);
    } catch (err) {
      setFailure(err);
    }
  };

  useEffect(() => {
    void load();
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      timer = setTimeout(async () => {
        if (document.visibilityState === "visible") await load();
        tick();
      }, REFRESH_MS);
    };
    tick();
    return () => clearTimeout(timer);
  }, []);

  useEffect(() => {
    if (failure && !view) return;
    const f = clusterFeed();
    setEvents([...f.recent].reverse());
    return f.listen({
      onEvent(e) {
        setEvents((list) => [e, ...list].slice(0, 100));
        void load();
      },
      onState: setFeed,
    });
  }, [failure && !view]);

  const assignments = useMemo(() => (view?.assignments ?? []).filter((a) => !filter || a.workspaceId.toLowerCase().includes(filter.toLowerCase()) || a.node === filter), [view, filter]);
  const page = usePage(assignments, 50, filter);

  if (failure && !view) return errorPageFor(failure, load);
  if (!view) return <p class="muted">Loading…</p>;
  const targets = view.nodes.filter((n) => n.status === "up");

  const drain = async (n: ClusterNode) => {
    if (!(await confirm(`Drain ${n.node}?`, <p>Its {n.workspaces} workspaces ({n.sessions} sessions) move to the other nodes, and it takes no new ones until you undrain it.</p>, "Drain")))
      return;
    await action.run(`drain ${n.node}`, async () => {
      const r = await ok(api.POST("/api/v1/cluster/nodes/{node}/drain", { params: { path: { node: n.node } } }));
      await load();
      return `${n.node} drained: ${r.moved.length} workspaces moved${r.remaining ? `, ${r.remaining} still there` : ""}.`;
    });
  };
  const undrain = (n: ClusterNode) =>
    action.run(`undrain ${n.node}`, async () => {
      await ok(api.POST("/api/v1/cluster/nodes/{node}/undrain", { params: { path: { node: n.node } } }));
      await load();
      return `${n.node} takes workspaces again.`;
    });
  const move = (workspaceId: string, node: string) =>
    action.run(`move ${workspaceId}`, async () => {
      const r = await ok(api.POST("/api/v1/workspaces/{workspaceId}/move", { params: { path: { workspaceId } }, body: { node } }));
      await load();
      return `${workspaceId} moved from ${r.from ?? "nowhere"} to ${r.to}.`;
    });

  const s = view.summary;
  return (
    <section aria-labelledby="cluster-title">
      {dialog}
      <div class="page-head">
        <h1 id="cluster-title">Cluster</h1>
        <FeedIndicator state={feed} />
      </div>
      <dl class="tiles">
        <div>
          <dt>Nodes</dt>
          <dd>
            {s.nodes}
            {s.nodesDown ? <span class="bad"> ({s.nodesDown} down)</span> : null}
          </dd>
        </div>
        <div>
          <dt>Sessions</dt>
          <dd>
            {s.sessions} / {s.capacity}
          </dd>
        </div>
        <div>
          <dt>Utilisation</dt>
          <dd>{percent(s.utilization)}</dd>
        </div>
        <div>
          <dt>Workspaces</dt>
          <dd>{s.workspaces}</dd>
        </div>
        <div>
          <dt>Coordinator</dt>
          <dd>{view.coordinator ?? "none"}</dd>
        </div>
      </dl>
      {action.busy && <p role="status">Working on it ({action.busy})…</p>}
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
      <div class="table-wrap">
        <table class="table" data-testid="nodes">
          <caption>Session nodes</caption>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Status</th>
              <th scope="col">Utilisation</th>
              <th scope="col">Sessions</th>
              <th scope="col">Workspaces</th>
              <th scope="col">Memory</th>
              <th scope="col" class="hide-narrow">
                Lease age
              </th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {view.nodes.map((n) => (
              <tr key={n.node} data-node={n.node}>
                <th scope="row">
                  {n.node}
                  {view.coordinator === n.node && <span class="muted small"> (coordinator)</span>}
                  <div class="muted small">joined {time(n.joinedAt)}</div>
                </th>
                <td>
                  <span class={`badge node-${n.status}`}>{n.status}</span>
                </td>
                <td>
                  <meter min={0} max={1} low={0.7} high={0.85} optimum={0.3} value={n.utilization} aria-label={`${n.node} utilisation`} /> {percent(n.utilization)}
                </td>
                <td>
                  {n.sessions}
                  <div class="muted small" title="what the sessions weigh by engine (ENGINE_WEIGHTS), of the node's capacity">
                    load {Math.round(n.load * 100) / 100} / {n.capacity}
                    {n.byEngine && Object.values(n.byEngine).some((x) => x > 0) ? ` · ${Object.entries(n.byEngine).filter(([, x]) => x > 0).map(([e, x]) => `${x} ${e}`).join(", ")}` : ""}
                  </div>
                </td>
                <td>
                  <button type="button" class="link" onClick={() => setFilter(n.node)} aria-label={`Show the workspaces of ${n.node}`}>
                    {n.workspaces}
                  </button>
                </td>
                <td>{n.memory ? `${bytes(n.memory.used)} of ${bytes(n.memory.total)}` : "–"}</td>
                <td class="hide-narrow">{ago(n.leaseAgeMs)}</td>
                <td class="end">
                  {n.status === "draining" ? (
                    <button type="button" onClick={() => undrain(n)} disabled={action.busy !== ""}>
                      Undrain
                    </button>
                  ) : n.status === "up" ? (
                    <button type="button" onClick={() => drain(n)} disabled={action.busy !== ""}>
                      Drain
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="panels two">
        <section class="card" aria-labelledby="assign-title">
          <h2 id="assign-title">Workspaces</h2>
          <div class="row">
            <label for="assign-filter">Filter</label>
            <input id="assign-filter" type="search" placeholder="workspace or node" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
          </div>
          <table class="table" data-testid="assignments">
            <thead>
              <tr>
                <th scope="col">Workspace</th>
                <th scope="col">Node</th>
                <th scope="col">Move to</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((a) => (
                <tr key={a.workspaceId} data-workspace={a.workspaceId}>
                  <td>
                    <a href={href.workspace(a.workspaceId)}>{a.workspaceId}</a>
                  </td>
                  <td data-testid="owner">{a.node}</td>
                  <td>
                    <MoveControl workspaceId={a.workspaceId} current={a.node} targets={targets.map((t) => t.node)} busy={action.busy !== ""} onMove={move} />
                  </td>
                </tr>
              ))}
              {!assignments.length && (
                <tr>
                  <td colSpan={3} class="muted">
                    No workspaces.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <PagerNav label="workspaces" {...page} total={assignments.length} />
        </section>
        <section class="card" aria-labelledby="failover-title">
          <h2 id="failover-title">Failovers and capacity</h2>
          {events.length ? (
            <ol class="events" aria-live="polite" data-testid="cluster-events">
              {events.map((e) => (
                <li key={e.id}>
                  <time dateTime={e.timestamp}>{clock(e.timestamp)}</time> <code>{e.event}</code>{" "}
                  {e.event === "wa.cluster.failover"
                    ? `${e.node}: ${e.workspaces.length} workspaces taken over${e.seconds ? ` in ${e.seconds.toFixed(1)} s` : ""}`
                    : e.event === "wa.cluster.capacity"
                      ? `${e.node}: ${e.previous} → ${e.level} (${percent(e.utilization)})`
                      : ""}
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">No failover or capacity change since this page opened; they appear here as they happen.</p>
          )}
        </section>
      </div>
    </section>
  );
}

function MoveControl({ workspaceId, current, targets, busy, onMove }: { workspaceId: string; current: string; targets: string[]; busy: boolean; onMove(w: string, node: string): void }) {
  const options = targets.filter((t) => t !== current);
  const [to, setTo] = useState(options[0] ?? "");
  if (!options.length) return <span class="muted small">no other node</span>;
  const chosen = options.includes(to) ? to : options[0]!;
  return (
    <form
      class="row tight"
      method="post"
      onSubmit={(e) => {
        e.preventDefault();
        onMove(workspaceId, chosen);
      }}
    >
      <label class="sr-only" for={`move-${workspaceId}`}>
        Move {workspaceId} to
      </label>
      <select id={`move-${workspaceId}`} value={chosen} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
      <button type="submit" disabled={busy}>
        Move
      </button>
    </form>
  );
}
