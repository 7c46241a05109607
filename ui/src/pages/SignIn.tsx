// Sign-in with an API key: an admin key (API_KEYS, or the one printed at first start) or a
// workspace key. The key goes to sessionStorage and the Authorization header, nowhere else.
import { useState } from "preact/hooks";
import { api, ApiError, describe, ok, type Me } from "../api/client";
import { auth } from "../auth";
import { Notice } from "../components/Notice";

export function SignIn({ message, onSignedIn }: { message?: string; onSignedIn(me: Me): void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(message ?? "");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = key.trim();
    if (!value) {
      setError("Paste an API key first.");
      return;
    }
    setBusy(true);
    setError("");
    auth.set(value);
    try {
      const me = await ok(api.GET("/api/v1/me"));
      setKey("");
      onSignedIn(me);
    } catch (err) {
      auth.clear();
      if (err instanceof ApiError && err.status === 401) setError("This key was refused (401): check that you pasted it whole.");
      else if (err instanceof ApiError && err.status === 429) setError(`Too many attempts (429): ${err.message}`);
      else if (err instanceof ApiError && err.gatewayDown) setError(`The gateway is down: ${err.message}`);
      else setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="center-page" id="main">
      <form class="card signin" method="post" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">wafleet</h1>
        <p class="muted">Sign in with an API key: the admin key wafleet printed at its first start (or one from API_KEYS), or a workspace key.</p>
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} autoFocus required />
        <p class="muted small">Kept in this tab only (sessionStorage) and sent as an Authorization header.</p>
        {error && <Notice kind="error">{error}</Notice>}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
