// A session's conversations. Messages arrive live from the workspace's event stream
// (wa.message.received, and acks of what was sent); sending goes through the messages route.
import { useEffect, useMemo, useState } from "preact/hooks";
import { auth } from "../auth";
import { workspaceFeed, type FeedState, type LiveEvent } from "../api/feed";
import { clock } from "../format";
import { href } from "../router";
import { FeedIndicator } from "./Workspace";
import { SendForm } from "./SendForm";

interface ChatMessage {
  id: string;
  chatId: string;
  fromMe: boolean;
  body: string;
  timestamp: number;
  ack?: string;
  /** A media descriptor (bytes behind `url`, fetched with the key) or, in older events, inline base64. */
  media?: { mimetype: string; data?: string; url?: string; filename?: string; size?: number };
}

/** A chat id's phone part, as people read it. */
export function chatLabel(chatId: string): string {
  const m = /^(\d+)@c\.us$/.exec(chatId);
  return m ? `+${m[1]}` : chatId;
}

function fromEvent(e: LiveEvent): ChatMessage | undefined {
  if (e.event !== "wa.message.received") return undefined;
  const m = e.message;
  return { id: m.id, chatId: m.fromMe ? m.to : m.from, fromMe: m.fromMe, body: m.body, timestamp: m.timestamp, media: m.media };
}

export function ChatsPage({ workspaceId, sessionId, chatId }: { workspaceId: string; sessionId: string; chatId?: string }) {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [feed, setFeed] = useState<FeedState>("connecting");

  useEffect(() => {
    const f = workspaceFeed(workspaceId);
    setMessages(f.recent.filter((e) => e.sessionId === sessionId).map(fromEvent).filter((m): m is ChatMessage => !!m));
    return f.listen({
      onEvent(e) {
        if (e.sessionId !== sessionId) return;
        if (e.event === "wa.message.ack") setMessages((list) => list.map((m) => (m.id === e.messageId ? { ...m, ack: e.ack } : m)));
        const m = fromEvent(e);
        if (m) setMessages((list) => (list.some((x) => x.id === m.id) ? list : [...list, m]));
      },
      onState: setFeed,
    });
  }, [workspaceId, sessionId]);

  const chats = useMemo(() => {
    const byChat = new Map<string, ChatMessage>();
    for (const m of messages) byChat.set(m.chatId, m);
    return [...byChat.values()].sort((a, b) => b.timestamp - a.timestamp);
  }, [messages]);
  const open = chatId ?? chats[0]?.chatId;
  const thread = messages.filter((m) => m.chatId === open);

  return (
    <section aria-labelledby="chats-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href.workspace(workspaceId)}>{workspaceId}</a> / <a href={href.session(workspaceId, sessionId)}>{sessionId}</a> / <span aria-current="page">chats</span>
      </nav>
      <div class="page-head">
        <h1 id="chats-title">Chats</h1>
        <FeedIndicator state={feed} />
      </div>
      <div class="chats">
        <nav class="chat-list card" aria-label="Chats">
          {chats.length ? (
            <ul>
              {chats.map((c) => (
                <li key={c.chatId}>
                  <a href={href.chats(workspaceId, sessionId, c.chatId)} aria-current={c.chatId === open ? "page" : undefined}>
                    <strong>{chatLabel(c.chatId)}</strong>
                    <span class="muted small ellipsis">{c.body || c.media?.filename || c.media?.mimetype}</span>
                  </a>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No messages since this page opened; new ones appear here live.</p>
          )}
        </nav>
        <div class="thread card">
          {open ? (
            <>
              <h2>{chatLabel(open)}</h2>
              <ol class="messages" aria-live="polite" data-testid="messages">
                {thread.map((m) => (
                  <li key={m.id} class={m.fromMe ? "mine" : "theirs"}>
                    <MessageBody m={m} />
                    <span class="muted small">
                      {clock(m.timestamp * 1000)}
                      {m.ack ? ` · ${m.ack}` : ""}
                    </span>
                  </li>
                ))}
              </ol>
              <SendForm
                workspaceId={workspaceId}
                sessionId={sessionId}
                to={open}
                onSent={(m) => setMessages((list) => [...list, { id: m.id, chatId: open, fromMe: true, body: m.body || (m.filename ? `[${m.filename}]` : ""), timestamp: m.timestamp, ack: m.ack }])}
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
  const media = m.media;
  const url = useMediaUrl(media);
  return (
    <div>
      {media && url && media.mimetype.startsWith("image/") && <img class="media" src={url} alt={media.filename ?? "image"} />}
      {media && url && !media.mimetype.startsWith("image/") && (
        <a href={url} download={media.filename ?? "file"}>
          Download {media.filename ?? media.mimetype}
        </a>
      )}
      {m.body && <p>{m.body}</p>}
    </div>
  );
}
