// A session's conversations. Where the session's engine has the capabilities, the chats and each
// chat's history come from the API (cursor-paged: "More chats", "Older messages"); otherwise the
// page shows what the event stream brought since it opened. Live events keep both current:
// received and own messages, acks, reactions, edits and revokes. Replies and reactions are offered
// only when the engine declares `replies` and `reactions`; sending goes through the messages route.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { auth } from "../auth";
import { api, describe, ok, type Schemas, type Session } from "../api/client";
import { workspaceFeed, type FeedState, type LiveEvent } from "../api/feed";
import { Notice } from "../components/Notice";
import { useAction } from "../components/useAsync";
import { clock } from "../format";
import { href } from "../router";
import { FeedIndicator } from "./Workspace";
import { SendForm } from "./SendForm";

type Capability = Schemas["Capability"];
type Chat = Schemas["Chat"];

interface ChatMessage {
  id: string;
  chatId: string;
  fromMe: boolean;
  body: string;
  timestamp: number;
  ack?: string;
  replyTo?: string;
  reactions?: Array<{ from: string; emoji: string }>;
  edited?: boolean;
  revoked?: boolean;
  /** A media descriptor (bytes behind `url`, fetched with the key) or, in older events, inline base64. */
  media?: { mimetype: string; data?: string; url?: string; filename?: string; size?: number };
}

const CHATS_PAGE = 30;
const MESSAGES_PAGE = 30;

/** A chat id's phone part, as people read it. */
export function chatLabel(chatId: string): string {
  const m = /^(\d+)@c\.us$/.exec(chatId);
  return m ? `+${m[1]}` : chatId;
}

type ApiMessage = Schemas["Message"];

function normalise(m: ApiMessage | Extract<LiveEvent, { event: "wa.message.received" }>["message"]): ChatMessage {
  return {
    id: m.id,
    chatId: m.chatId ?? (m.fromMe ? m.to : m.from),
    fromMe: m.fromMe,
    body: m.body,
    timestamp: m.timestamp,
    ack: m.ack,
    replyTo: m.replyTo,
    reactions: m.reactions,
    edited: m.edited,
    revoked: m.revoked,
    media: m.media as ChatMessage["media"],
  };
}

/** A message an event brings (received, or own from another device). */
function messageOf(e: LiveEvent): ChatMessage | undefined {
  if (e.event !== "wa.message.received" && e.event !== "wa.message.sent") return undefined;
  return normalise(e.message);
}

/** Applies one event to the messages shown (new, ack, reaction, edit, revoke); returns the same list when it changes nothing. */
function applyEvent(list: ChatMessage[], e: LiveEvent): ChatMessage[] {
  const m = messageOf(e);
  if (m) return list.some((x) => x.id === m.id) ? list : [...list, m];
  const update = (id: string, fn: (m: ChatMessage) => ChatMessage) => (list.some((x) => x.id === id) ? list.map((x) => (x.id === id ? fn(x) : x)) : list);
  switch (e.event) {
    case "wa.message.ack":
      return update(e.messageId, (x) => ({ ...x, ack: e.ack }));
    case "wa.message.reaction":
      return update(e.messageId, (x) => ({ ...x, reactions: withReaction(x.reactions, e.from, e.emoji) }));
    case "wa.message.edited":
      return update(e.messageId, (x) => ({ ...x, body: e.text, edited: true }));
    case "wa.message.revoked":
      return update(e.messageId, (x) => ({ ...x, body: "", media: undefined, revoked: true }));
    default:
      return list;
  }
}

function withReaction(reactions: ChatMessage["reactions"], from: string, emoji: string): ChatMessage["reactions"] {
  const others = (reactions ?? []).filter((r) => r.from !== from);
  return emoji ? [...others, { from, emoji }] : others;
}

/** Newest activity first; a chat the API did not list yet (a new conversation) is made from its message. */
function bumpChat(chats: Chat[], m: ChatMessage, open: string | undefined): Chat[] {
  const old = chats.find((c) => c.id === m.chatId);
  const unread = !m.fromMe && m.chatId !== open ? 1 : 0;
  const lastMessage = { id: m.id, from: m.fromMe ? "" : m.chatId, to: m.fromMe ? m.chatId : "", body: m.body, timestamp: m.timestamp, fromMe: m.fromMe } as Chat["lastMessage"];
  const chat: Chat = old
    ? { ...old, timestamp: Math.max(old.timestamp, m.timestamp), lastMessage, unreadCount: old.unreadCount + unread }
    : { id: m.chatId, name: chatLabel(m.chatId), isGroup: m.chatId.endsWith("@g.us"), unreadCount: unread, timestamp: m.timestamp, lastMessage };
  return [chat, ...chats.filter((c) => c.id !== m.chatId)].sort((a, b) => b.timestamp - a.timestamp);
}

export function ChatsPage({ workspaceId, sessionId, chatId }: { workspaceId: string; sessionId: string; chatId?: string }) {
  const path = { workspaceId, sessionId };
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [chats, setChats] = useState<Chat[]>([]);
  const [chatsCursor, setChatsCursor] = useState<string | null>(null);
  const [olderCursor, setOlderCursor] = useState<Record<string, string | null>>({});
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [replyTo, setReplyTo] = useState<ChatMessage | undefined>(undefined);
  const [loadError, setLoadError] = useState("");
  const action = useAction();
  const caps = useMemo(() => new Set<Capability>(session?.capabilities ?? []), [session]);
  const fromApi = caps.has("chats");
  const openRef = useRef<string | undefined>(undefined);

  const loadChats = useCallback(
    async (cursor?: string) => {
      const page = await ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/chats", { params: { path, query: { limit: CHATS_PAGE, ...(cursor ? { cursor } : {}) } } }));
      setChats((list) => (cursor ? [...list, ...page.items.filter((c) => !list.some((x) => x.id === c.id))] : page.items));
      setChatsCursor(page.nextCursor);
    },
    [workspaceId, sessionId],
  );

  const loadHistory = useCallback(
    async (chat: string, cursor?: string) => {
      const page = await ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/chats/{chatId}/messages", { params: { path: { ...path, chatId: chat }, query: { limit: MESSAGES_PAGE, ...(cursor ? { cursor } : {}) } } }));
      // pages come newest first; shown oldest first (a stable sort keeps this order within a second)
      const loaded = page.items.map(normalise).map((m) => ({ ...m, chatId: chat })).reverse();
      setMessages((list) => [...loaded.filter((m) => !list.some((x) => x.id === m.id)), ...list]);
      setOlderCursor((c) => ({ ...c, [chat]: page.nextCursor }));
    },
    [workspaceId, sessionId],
  );

  // the session (for its capabilities and own id), then its chats where the engine lists them
  useEffect(() => {
    let gone = false;
    setLoadError("");
    void ok(api.GET("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}", { params: { path } }))
      .then((s) => {
        if (gone) return;
        setSession(s);
        if (s.capabilities?.includes("chats")) return loadChats();
      })
      .catch((err) => !gone && setLoadError(describe(err)));
    return () => {
      gone = true;
    };
  }, [workspaceId, sessionId, loadChats]);

  useEffect(() => {
    const f = workspaceFeed(workspaceId);
    setMessages(f.recent.filter((e) => e.sessionId === sessionId).reduce(applyEvent, [] as ChatMessage[]));
    return f.listen({
      onEvent(e) {
        if (e.sessionId !== sessionId) return;
        setMessages((list) => applyEvent(list, e));
        const m = messageOf(e);
        if (m) setChats((list) => bumpChat(list, m, openRef.current));
      },
      onResync() {
        // events sent while the stream was away are not replayed: read the lists again
        if (session?.capabilities?.includes("chats")) void loadChats().catch((err) => setLoadError(describe(err)));
        if (openRef.current && session?.capabilities?.includes("history")) void loadHistory(openRef.current).catch((err) => setLoadError(describe(err)));
      },
      onState: setFeed,
    });
  }, [workspaceId, sessionId, session, loadChats, loadHistory]);

  // without the chats capability, the list is what arrived since the page opened
  const shownChats = useMemo(() => {
    if (fromApi) return chats;
    let list: Chat[] = [];
    for (const m of [...messages].sort((a, b) => a.timestamp - b.timestamp)) list = bumpChat(list, m, undefined);
    return list;
  }, [fromApi, chats, messages]);
  const open = chatId ?? shownChats[0]?.id;
  openRef.current = open;

  // opening a chat: its history (where the engine keeps one) and, where it can, mark it read
  useEffect(() => {
    setReplyTo(undefined);
    if (!open || !session) return;
    if (caps.has("history") && !(open in olderCursor)) void loadHistory(open).catch((err) => setLoadError(describe(err)));
    const chat = chats.find((c) => c.id === open);
    if (caps.has("read") && chat && chat.unreadCount > 0) {
      void ok(api.POST("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/chats/{chatId}/read", { params: { path: { ...path, chatId: open } } }))
        .then(() => setChats((list) => list.map((c) => (c.id === open ? { ...c, unreadCount: 0 } : c))))
        .catch(() => undefined);
    }
  }, [open, session]);

  const thread = messages.filter((m) => m.chatId === open).sort((a, b) => a.timestamp - b.timestamp);
  const me = session?.me?.wid;
  // the newest message in view: scroll down when one arrives (not when older ones are loaded above)
  const list = useRef<HTMLOListElement>(null);
  const newest = thread[thread.length - 1]?.id;
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [open, newest]);

  const react = (m: ChatMessage, emoji: string) =>
    action.run(`react-${m.id}`, async () => {
      await ok(api.PUT("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/messages/{messageId}/reaction", { params: { path: { ...path, messageId: m.id } }, body: { emoji } }));
      if (me) setMessages((list) => list.map((x) => (x.id === m.id ? { ...x, reactions: withReaction(x.reactions, me, emoji) } : x)));
    });

  return (
    <section aria-labelledby="chats-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.workspace(workspaceId)}>{workspaceId}</a> / <a href={href.session(workspaceId, sessionId)}>{sessionId}</a> / <span aria-current="page">chats</span>
      </nav>
      <div class="page-head">
        <h1 id="chats-title">Chats</h1>
        <FeedIndicator state={feed} />
      </div>
      {loadError && <Notice kind="error">{loadError}</Notice>}
      <div class="chats">
        <nav class="chat-list card" aria-label="Chats">
          {shownChats.length ? (
            <ul>
              {shownChats.map((c) => (
                <li key={c.id}>
                  <a href={href.chats(workspaceId, sessionId, c.id)} aria-current={c.id === open ? "page" : undefined}>
                    <strong>
                      {c.name && c.name !== chatLabel(c.id) ? (
                        <>
                          {c.name} <span class="muted small">{chatLabel(c.id)}</span>
                        </>
                      ) : (
                        chatLabel(c.id)
                      )}
                      {c.unreadCount > 0 && (
                        <span class="badge" aria-label={`${c.unreadCount} unread`}>
                          {c.unreadCount}
                        </span>
                      )}
                    </strong>
                    <span class="muted small ellipsis">{c.lastMessage?.body || c.lastMessage?.media?.filename || c.lastMessage?.media?.mimetype}</span>
                  </a>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">{fromApi ? "No chats yet." : "No messages since this page opened; new ones appear here live."}</p>
          )}
          {fromApi && chatsCursor && (
            <button type="button" onClick={() => void action.run("more-chats", () => loadChats(chatsCursor))} disabled={action.busy !== ""}>
              More chats
            </button>
          )}
        </nav>
        <div class="thread card">
          {open ? (
            <>
              <h2>{shownChats.find((c) => c.id === open)?.name || chatLabel(open)}</h2>
              {caps.has("history") && olderCursor[open] && (
                <button type="button" onClick={() => void action.run("older", () => loadHistory(open, olderCursor[open] ?? undefined))} disabled={action.busy !== ""}>
                  Older messages
                </button>
              )}
              <ol class="messages" aria-live="polite" data-testid="messages" ref={list}>
                {thread.map((m) => (
                  <li key={m.id} class={m.fromMe ? "mine" : "theirs"} data-message-id={m.id}>
                    {m.replyTo && <Quote message={messages.find((x) => x.id === m.replyTo)} />}
                    <MessageBody m={m} />
                    <span class="muted small">
                      {clock(m.timestamp * 1000)}
                      {m.ack ? ` · ${m.ack}` : ""}
                      {m.edited ? " · edited" : ""}
                    </span>
                    {!!m.reactions?.length && (
                      <span class="reactions" aria-label="Reactions">
                        {m.reactions.map((r) => (
                          <span key={r.from} title={r.from === me ? "You" : chatLabel(r.from)}>
                            {r.emoji}
                          </span>
                        ))}
                      </span>
                    )}
                    {!m.revoked && (caps.has("replies") || caps.has("reactions")) && (
                      <span class="row message-actions">
                        {caps.has("replies") && (
                          <button type="button" class="link" onClick={() => setReplyTo(m)} aria-label={`Reply to ${m.body || "this message"}`}>
                            Reply
                          </button>
                        )}
                        {caps.has("reactions") &&
                          (m.reactions?.some((r) => r.from === me) ? (
                            <button type="button" class="link" onClick={() => void react(m, "")} disabled={action.busy !== ""} aria-label={`Remove your reaction to ${m.body || "this message"}`}>
                              Remove reaction
                            </button>
                          ) : (
                            <button type="button" class="link" onClick={() => void react(m, "👍")} disabled={action.busy !== ""} aria-label={`React 👍 to ${m.body || "this message"}`}>
                              React 👍
                            </button>
                          ))}
                      </span>
                    )}
                  </li>
                ))}
              </ol>
              {action.error && <Notice kind="error">{action.error}</Notice>}
              {replyTo && (
                <div class="replying row" role="status">
                  <span>
                    Replying to <q>{replyTo.body || replyTo.media?.filename || "a message"}</q>
                  </span>
                  <button type="button" class="link" onClick={() => setReplyTo(undefined)}>
                    Cancel reply
                  </button>
                </div>
              )}
              <SendForm
                workspaceId={workspaceId}
                sessionId={sessionId}
                to={open}
                replyTo={replyTo?.id}
                onSent={(m) => {
                  const sent: ChatMessage = { id: m.id, chatId: open, fromMe: true, body: m.body || (m.filename ? `[${m.filename}]` : ""), timestamp: m.timestamp, ack: m.ack, replyTo: replyTo?.id };
                  setMessages((list) => (list.some((x) => x.id === sent.id) ? list : [...list, sent]));
                  setChats((list) => bumpChat(list, sent, open));
                  setReplyTo(undefined);
                }}
              />
            </>
          ) : (
            <SendForm workspaceId={workspaceId} sessionId={sessionId} />
          )}
        </div>
      </div>
    </section>
  );
}

/** The message a reply quotes, when it is among those shown. */
function Quote({ message }: { message: ChatMessage | undefined }) {
  return <blockquote class="quote muted small">{message ? message.body || message.media?.filename || message.media?.mimetype || "a message" : "a message not shown here"}</blockquote>;
}

/**
 * The media's bytes as a URL the page can show: inline base64 as a data URL, a descriptor's `url`
 * fetched with the key (the key never goes into a URL) and held as a blob URL while shown.
 */
function useMediaUrl(media: ChatMessage["media"]): string | undefined {
  const [blobUrl, setBlobUrl] = useState<string | undefined>(undefined);
  const remote = media && !media.data ? media.url : undefined;
  useEffect(() => {
    if (!remote) return;
    let revoked = false;
    let made: string | undefined;
    const key = auth.key();
    void fetch(remote, { headers: key ? { Authorization: `Bearer ${key}` } : {} })
      .then((r) => (r.ok ? r.blob() : undefined))
      .then((b) => {
        if (!b || revoked) return;
        made = URL.createObjectURL(b);
        setBlobUrl(made);
      })
      .catch(() => undefined);
    return () => {
      revoked = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [remote]);
  if (media?.data) return `data:${media.mimetype};base64,${media.data}`;
  return blobUrl;
}

function MessageBody({ m }: { m: ChatMessage }) {
  const media = m.revoked ? undefined : m.media;
  const url = useMediaUrl(media);
  if (m.revoked) return <p class="muted">This message was deleted</p>;
  return (
    <div>
      {media && url && media.mimetype.startsWith("image/") && <img class="media" src={url} alt={media.filename ?? "image"} />}
      {media && url && !media.mimetype.startsWith("image/") && (
        <a href={url} download={media.filename ?? "file"}>
          Download {media.filename ?? media.mimetype}
        </a>
      )}
      {media && !url && <p class="muted small">{media.filename ?? media.mimetype}</p>}
      {m.body && <p>{m.body}</p>}
    </div>
  );
}
