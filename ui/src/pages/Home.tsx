// Admin home: every workspace the cluster has placed (from GET /cluster), with its owner node, and
// a way to open (or start) any workspace by id.
import { useMemo, useState } from "preact/hooks";
import { api, ok } from "../api/client";
import { PagerNav, usePage } from "../components/Pager";
import { useLoad } from "../components/useAsync";
import { href, navigate } from "../router";
import { errorPageFor } from "./ErrorPage";

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function HomePage() {
  const cluster = useLoad(() => ok(api.GET("/api/v1/cluster")), []);
  const [filter, setFilter] = useState("");
  const [open, setOpen] = useState("");
  const rows = useMemo(() => (cluster.data?.assignments ?? []).filter((a) => !filter || a.workspaceId.toLowerCase().includes(filter.toLowerCase())), [cluster.data, filter]);
  const page = usePage(rows, 50, filter);

  if (cluster.failure && !cluster.data) return errorPageFor(cluster.failure, cluster.reload);
  return (
    <section aria-labelledby="home-title">
      <div class="page-head">
        <h1 id="home-title">Workspaces</h1>
        <form
          class="row"
          method="post"
          onSubmit={(e) => {
            e.preventDefault();
            if (ID.test(open)) navigate(href.workspace(open));
          }}
        >
          <label for="open-ws" class="sr-only">
            Workspace id
          </label>
          <input id="open-ws" placeholder="workspace id" pattern="[A-Za-z0-9_\-]{1,64}" value={open} onInput={(e) => setOpen((e.target as HTMLInputElement).value)} required />
          <button type="submit">Open workspace</button>
        </form>
      </div>
      <p class="muted">Workspaces with sessions, and the node that owns each. Open any workspace by id to create its first session.</p>
      <div class="row">
        <label for="ws-filter">Filter</label>
        <input id="ws-filter" type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} placeholder="workspace id contains…" />
        <button type="button" onClick={() => cluster.reload()} disabled={cluster.loading}>
          Refresh
        </button>
      </div>
      {cluster.loading && !cluster.data ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <table class="table">
            <caption class="sr-only">Workspaces and their nodes</caption>
            <thead>
              <tr>
                <th scope="col">Workspace</th>
                <th scope="col">Node</th>
                <th scope="col">
                  <span class="sr-only">Links</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((a) => (
                <tr key={a.workspaceId}>
                  <td>
                    <a href={href.workspace(a.workspaceId)}>{a.workspaceId}</a>
                  </td>
                  <td>{a.node}</td>
                  <td class="end">
                    <a href={href.webhook(a.workspaceId)} aria-label={`Webhooks of ${a.workspaceId}`}>
                      webhooks
                    </a>
                  </td>
                </tr>
              ))}
              {!rows.length && (
                <tr>
                  <td colSpan={3} class="muted">
                    No workspaces yet. Open one by id above and create a session.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <PagerNav label="workspaces" {...page} total={rows.length} />
        </>
      )}
    </section>
  );
}
