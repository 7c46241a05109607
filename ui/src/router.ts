// Hash routes (#/w/acme/s/main): the server only ever serves `/`, and no id or key reaches a
// request path or a server log through navigation.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "home" }
  | { page: "workspace"; workspaceId: string }
  | { page: "session"; workspaceId: string; sessionId: string }
  | { page: "chats"; workspaceId: string; sessionId: string; chatId?: string }
  | { page: "webhook"; workspaceId: string }
  | { page: "cluster" }
  | { page: "backups" }
  | { page: "dead-letters" }
  | { page: "not-found"; path: string };

const seg = (s: string | undefined) => {
  try {
    return s === undefined ? undefined : decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  const parts = path.split("/").filter(Boolean);
  const [a, w, b, s, c, chat] = parts.map(seg);
  if (!parts.length) return { page: "home" };
  if (a === "cluster" && parts.length === 1) return { page: "cluster" };
  if (a === "backups" && parts.length === 1) return { page: "backups" };
  if (a === "dead-letters" && parts.length === 1) return { page: "dead-letters" };
  if (a === "w" && w) {
    if (parts.length === 2) return { page: "workspace", workspaceId: w };
    if (b === "webhook" && parts.length === 3) return { page: "webhook", workspaceId: w };
    if (b === "s" && s && parts.length === 4) return { page: "session", workspaceId: w, sessionId: s };
    if (b === "s" && s && c === "chats" && parts.length <= 6) return { page: "chats", workspaceId: w, sessionId: s, chatId: chat };
  }
  return { page: "not-found", path };
}

const enc = encodeURIComponent;
export const href = {
  home: () => "#/",
  workspace: (w: string) => `#/w/${enc(w)}`,
  session: (w: string, s: string) => `#/w/${enc(w)}/s/${enc(s)}`,
  chats: (w: string, s: string, chat?: string) => `#/w/${enc(w)}/s/${enc(s)}/chats${chat ? `/${enc(chat)}` : ""}`,
  webhook: (w: string) => `#/w/${enc(w)}/webhook`,
  cluster: () => "#/cluster",
  backups: () => "#/backups",
  deadLetters: () => "#/dead-letters",
};

export function navigate(to: string): void {
  if (location.hash !== to) location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
