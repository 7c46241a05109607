// The shell: sign-in, who the key is (GET /api/v1/me), navigation, and the pages. A workspace key
// only ever sees its own workspace; admin pages answer it with the API's own 403.
import { useEffect, useState } from "preact/hooks";
import { api, describe, ok, onGatewayHealth, type Me } from "./api/client";
import { closeAllFeeds } from "./api/feed";
import { auth } from "./auth";
import { href, navigate, useRoute, type Route } from "./router";
import { BackupsPage } from "./pages/Backups";
import { ChatsPage } from "./pages/Chats";
import { ClusterPage } from "./pages/Cluster";
import { DeadLettersPage } from "./pages/DeadLetters";
import { ErrorPage } from "./pages/ErrorPage";
import { HomePage } from "./pages/Home";
import { SessionPage } from "./pages/Session";
import { SignIn } from "./pages/SignIn";
import { WebhookPage } from "./pages/Webhook";
import { WorkspacePage } from "./pages/Workspace";

type State = { kind: "loading" } | { kind: "signed-out"; message?: string } | { kind: "down"; message: string } | { kind: "in"; me: Me };

export function App() {
  const [state, setState] = useState<State>(() => (auth.key() ? { kind: "loading" } : { kind: "signed-out" }));
  const [down, setDown] = useState("");
  const route = useRoute();

  const whoami = async () => {
    try {
      const me = await ok(api.GET("/api/v1/me"));
      setState({ kind: "in", me });
    } catch (err) {
      const e = err as { status?: number; gatewayDown?: boolean };
      if (e.gatewayDown) setState({ kind: "down", message: describe(err) });
      else {
        auth.clear();
        setState({ kind: "signed-out", message: e.status === 401 ? "This key was refused (401). Check it and sign in again." : describe(err) });
      }
    }
  };

  useEffect(() => {
    if (state.kind === "loading") void whoami();
  }, [state.kind]);

  useEffect(
    () =>
      onGatewayHealth((h) => {
        if (h.kind === "down") setDown(h.message);
        else if (h.kind === "up") setDown("");
        else if (h.kind === "unauthorized" && auth.key()) signOut("Your key was refused (401): it may have been revoked. Sign in again.");
      }),
    [],
  );

  const signOut = (message?: string) => {
    auth.clear();
    closeAllFeeds();
    setState({ kind: "signed-out", message });
  };

  if (state.kind === "loading") return <p class="center muted">Connecting to the gateway…</p>;
  if (state.kind === "signed-out") return <SignIn message={state.message} onSignedIn={(me) => setState({ kind: "in", me })} />;
  if (state.kind === "down")
    return (
      <main class="center-page" id="main">
        <h1>The gateway is down</h1>
        <p>{state.message}</p>
        <div class="row">
          <button type="button" class="primary" onClick={() => setState({ kind: "loading" })}>
            Try again
          </button>
          <button type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </main>
    );

  const me = state.me;
  if (me.kind === "workspace" && route.page === "home") navigate(href.workspace(me.workspaceId!));
  const workspace = "workspaceId" in route ? route.workspaceId : me.workspaceId;
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href.home()}>
          wafleet
        </a>
        <nav aria-label="Main">
          <ul>
            {me.kind === "admin" && <NavLink to={href.home()} active={route.page === "home"} label="Workspaces" />}
            {workspace && <NavLink to={href.workspace(workspace)} active={route.page === "workspace" || route.page === "session" || route.page === "chats"} label="Sessions" />}
            {workspace && <NavLink to={href.webhook(workspace)} active={route.page === "webhook"} label="Webhooks" />}
            {me.kind === "admin" && <NavLink to={href.cluster()} active={route.page === "cluster"} label="Cluster" />}
            {me.kind === "admin" && <NavLink to={href.backups()} active={route.page === "backups"} label="Backups" />}
            {me.kind === "admin" && <NavLink to={href.deadLetters()} active={route.page === "dead-letters"} label="Dead letters" />}
          </ul>
        </nav>
        <div class="who">
          <span class="muted small" title={`key ${me.keyId}`}>
            {me.kind === "admin" ? "admin key" : `workspace ${me.workspaceId}`}
            {me.simulation ? " · simulated network" : ""}
          </span>
          <button type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {down && (
        <div class="banner" role="alert">
          The gateway is not answering: {down}. The dashboard keeps retrying.
        </div>
      )}
      <main id="main" tabIndex={-1}>
        <Page route={route} me={me} />
      </main>
    </div>
  );
}

function NavLink({ to, label, active }: { to: string; label: string; active: boolean }) {
  return (
    <li>
      <a href={to} aria-current={active ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
}

function Page({ route, me }: { route: Route; me: Me }) {
  switch (route.page) {
    case "home":
      return me.kind === "admin" ? <HomePage /> : null;
    case "workspace":
      return <WorkspacePage workspaceId={route.workspaceId} me={me} key={route.workspaceId} />;
    case "session":
      return <SessionPage workspaceId={route.workspaceId} sessionId={route.sessionId} me={me} key={`${route.workspaceId}/${route.sessionId}`} />;
    case "chats":
      return <ChatsPage workspaceId={route.workspaceId} sessionId={route.sessionId} chatId={route.chatId} key={`${route.workspaceId}/${route.sessionId}`} />;
    case "webhook":
      return <WebhookPage workspaceId={route.workspaceId} key={route.workspaceId} />;
    case "cluster":
      return <ClusterPage />;
    case "backups":
      return <BackupsPage />;
    case "dead-letters":
      return <DeadLettersPage />;
    default:
      return <ErrorPage title="No such page" message={`Nothing lives at #${route.path}.`} />;
  }
}

