// The fake page's message-actions family: what whatsapp-web.js calls to act on messages and chats
// beyond sending (WAWebSendReactionMsgAction, WAWebSendMessageEditAction, WAWebMsgActionCapability,
// the revoke and delete commands on WAWebCmd, WAWebChatStateBridge, sendSeen, the reaction table
// and the poll-vote table the client hooks for reaction and vote events), messages loaded from the account's history on demand
// (Msg.getMessagesById), and the network's `update` frames turned into the model changes the
// client listens to (an edit, a revoke, a reaction, a message sent from the phone). Every action is
// a `query` frame to the simulated network, which keeps the truth. Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installMessageActions(page: FakePage): void {
  const { Model, MsgKey, createWid } = page;
  const Msg = page.Msg;
  const ACKS = ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"];
  /** The network's message types as WhatsApp Web's */
  const WA_TYPES: Record<string, string> = { text: "chat", voice: "ptt", poll: "poll_creation", revoked: "revoked", location: "location", vcard: "vcard", image: "image", video: "video", audio: "audio", document: "document" };

  // --- queries: one `query` frame, answered by a `result` frame with the same qid ---
  const waiting = new Map<string, { resolve(v: any): void; reject(e: Error): void; timer: any }>();
  let nextQid = 1;
  page.query = (q: Record<string, unknown>, timeoutMs = 15000) =>
    new Promise((resolve, reject) => {
      const qid = `page-${nextQid++}`;
      const timer = setTimeout(() => {
        if (waiting.delete(qid)) reject(new Error(`the network did not answer ${String(q.op)}`));
      }, timeoutMs);
      waiting.set(qid, { resolve, reject, timer });
      page.transmit({ t: "query", qid, ...q });
    });
  page.frames.result = (f: any) => {
    const w = waiting.get(f.qid);
    if (!w) return;
    waiting.delete(f.qid);
    clearTimeout(w.timer);
    if (f.error === "NOT_FOUND") w.resolve(null);
    else if (f.error) w.reject(new Error(`${f.error}: ${f.message ?? ""}`));
    else w.resolve(f.data);
  };

  /** A message of the account's history as WhatsApp Web's Msg model (added to Msg, not announced as new). */
  page.msgFromHistory = (h: any, isNewMsg = false) => {
    const key = new MsgKey({ fromMe: h.fromMe, remote: h.chatId, id: h.id });
    const known = Msg.get(key);
    if (known) return known;
    const attrs: Record<string, any> = {
      id: key,
      type: WA_TYPES[h.type] ?? "chat",
      body: h.body,
      t: h.timestamp,
      from: createWid(h.from),
      to: createWid(h.to),
      self: h.fromMe ? "out" : "in",
      ack: h.ack ? ACKS.indexOf(h.ack) - 1 : 1,
      isNewMsg,
      local: false,
    };
    if (h.location) Object.assign(attrs, { lat: h.location.latitude, lng: h.location.longitude, loc: h.location.name });
    if (h.vcard) attrs.body = h.vcard;
    if (h.poll) Object.assign(attrs, { pollName: h.poll.name, pollOptions: h.poll.options.map((name: string, localId: number) => ({ name, localId })), pollSelectableOptionsCount: h.poll.multiple ? 0 : 1 });
    if (h.media) {
      // as WhatsApp Web keeps a media message it loaded from history: what the media is and where
      // the media servers have it (the bytes are fetched on download, not with the history)
      Object.assign(attrs, {
        type: WA_TYPES[h.type] ?? page.media.typeOf(h.media.mimetype),
        caption: h.body,
        mimetype: h.media.mimetype,
        filename: h.media.filename,
        size: h.media.size,
        directPath: page.media.historyPath(h.id),
        mediaKey: "ZmFrZQ==",
        filehash: h.id,
        mediaData: { mediaStage: "RESOLVED" },
      });
    }
    if (h.author) attrs.author = createWid(h.author);
    if (h.mentions) attrs.mentionedJidList = h.mentions.map((m: string) => createWid(m));
    const msg = new Model(attrs) as any;
    msg.__seq = h.seq;
    // loaded from the history, never announced: a live delivery of it (an unacknowledged incoming
    // message the network sends again after login) still announces it
    if (!isNewMsg) msg.__historyOnly = true;
    insertInOrder(page.chatFor(createWid(h.chatId)).msgs, msg);
    Msg.add(msg);
    return msg;
  };

  /** A chat's messages stay oldest first, as WhatsApp Web keeps them: live ones (no position yet) last. */
  function insertInOrder(msgs: any, msg: any) {
    if (msgs.get(msg.id)) return;
    const at = msgs.models.findIndex((m: any) => m.__seq === undefined || m.__seq > msg.__seq);
    msgs.add(msg);
    if (at >= 0) {
      msgs.models.pop();
      msgs.models.splice(at, 0, msg);
    }
  }

  /** Loads the messages before the oldest one the chat holds, from the account's history. */
  async function loadEarlierMsgs({ chat }: { chat: any }) {
    for (;;) {
      const seqs = chat.msgs.models.map((m: any) => m.__seq).filter((x: any) => typeof x === "number");
      const before = seqs.length ? Math.min(...seqs) : undefined;
      const page_ = await page.query({ op: "messages", chatId: chat.id._serialized, limit: 50, ...(before !== undefined ? { before } : {}) });
      if (!page_) return [];
      const added: any[] = [];
      for (const h of page_.items) {
        const known = Msg.get(new MsgKey({ fromMe: h.fromMe, remote: h.chatId, id: h.id }));
        if (known) {
          // a live message the network has now placed in the history
          if (known.__seq === undefined) known.__seq = h.seq;
          continue;
        }
        added.push(page.msgFromHistory(h));
      }
      if (added.length || page_.next === undefined) return added.sort((a, b) => a.__seq - b.__seq);
    }
  }

  /** The chat list, as WhatsApp Web syncs it at login: each chat with its last message. */
  page.onReady.push(async () => {
    let before: number | undefined;
    for (;;) {
      const got = await page.query({ op: "chats", limit: 100, ...(before !== undefined ? { before } : {}) });
      if (!got) return;
      for (const c of got.items) {
        const chat = page.chatFor(createWid(c.id));
        chat.set({ t: c.timestamp, unreadCount: c.unreadCount, formattedTitle: c.name }, { silent: true });
        if (c.lastMessage) chat.set({ lastReceivedKey: page.msgFromHistory(c.lastMessage).id }, { silent: true });
      }
      if (got.next === undefined) return;
      before = got.next;
    }
  });

  /** WhatsApp Web asks its store for messages it has not loaded; here the store is the network's history. */
  Msg.getMessagesById = async (ids: any[]) => {
    const messages: any[] = [];
    for (const id of ids) {
      const known = Msg.get(id);
      if (known) {
        messages.push(known);
        continue;
      }
      const raw = String(id).split("_").slice(2).join("_");
      if (!raw) continue;
      const h = await page.query({ op: "message", id: raw });
      if (h) messages.push(page.msgFromHistory(h));
    }
    return { messages };
  };

  const revokeLocally = (msg: any) => msg.set({ type: "revoked", body: "" });
  const forget = (msg: any) => {
    page.Chat.get(msg.id.remote)?.msgs.remove(msg);
    Msg.remove(msg);
  };

  Object.assign(page.modules.WAWebCmd.Cmd, {
    sendRevokeMsgs: async (_chat: any, what: any) => {
      for (const msg of what?.list ?? what ?? []) if (await page.query({ op: "revoke", id: msg.id.id, forEveryone: true })) revokeLocally(msg);
    },
    sendDeleteMsgs: async (_chat: any, what: any) => {
      for (const msg of what?.list ?? what ?? []) if (await page.query({ op: "revoke", id: msg.id.id, forEveryone: false })) forget(msg);
    },
  });

  const reactionTable = { bulkUpsert: async (rows: any[]) => rows };
  const pollVoteTable = { bulkUpsert: async (rows: any[]) => rows };
  /** A fresh key for an add-on message (a reaction, a vote) from `from` */
  const addonKey = (chatId: string) => new MsgKey({ fromMe: false, remote: chatId, id: `A${Date.now()}${Math.random().toString(36).slice(2, 8).toUpperCase()}` });

  // the network tells of what happened elsewhere (the history already holds it), once the client
  // listens; the page acknowledges each update once applied (startFakePage)
  page.frames.update = (f: any) => page.whenListening(() => applyUpdate(f.update));

  async function applyUpdate(u: any) {
    if (u.kind === "sent") {
      // an own message sent from the phone: WhatsApp Web adds it as a new message (message_create)
      const key = new MsgKey({ fromMe: true, remote: u.message.chatId, id: u.message.id });
      const synced = Msg.get(key);
      if (synced?.__historyOnly) {
        // the chat list sync loaded it before this news of it: the news announces it (once)
        page.Chat.get(synced.id.remote)?.msgs.remove(synced);
        Msg.remove(synced);
      }
      if (!Msg.get(key)) {
        const chat = page.chatFor(createWid(u.message.chatId));
        chat.set({ t: u.message.timestamp }, { silent: true });
        page.touchChat(chat);
        const msg = page.msgFromHistory(u.message, true);
        chat.set({ lastReceivedKey: msg.id }, { silent: true });
      }
      return;
    }
    if (u.kind === "presence") return page.presence?.(u);
    if (u.kind !== "edit" && u.kind !== "revoke" && u.kind !== "reaction" && u.kind !== "vote") return; // not modelled by this page yet
    const key = new MsgKey({ fromMe: u.kind === "reaction" || u.kind === "vote", remote: u.chatId, id: u.id });
    const { messages } = await Msg.getMessagesById([key._serialized, new MsgKey({ fromMe: !key.fromMe, remote: u.chatId, id: u.id })._serialized]);
    const msg = messages[0];
    if (!msg) return;
    if (u.kind === "edit") {
      if (msg.body === u.body) msg.set({ body: "" }, { silent: true });
      msg.set({ body: u.body });
    } else if (u.kind === "revoke") {
      if (msg.type === "revoked") msg.set({ type: "chat" }, { silent: true });
      revokeLocally(msg);
    } else if (u.kind === "reaction") {
      const from = createWid(u.from);
      await page.modules.WAWebAddonReactionTableMode.reactionTableMode.bulkUpsert([
        { id: addonKey(u.chatId), reactionParentKey: msg.id, reactionText: u.emoji, reactionTimestamp: Date.now(), from, author: from, orphan: 0, read: false },
      ]);
    } else if (u.kind === "vote") {
      // WhatsApp Web stores a vote as a row of the poll-vote add-on table: the voter's current
      // selection, as the poll's option ids
      const voter = createWid(u.voter);
      const ids = (u.options as string[]).map((name) => (msg.pollOptions ?? []).find((o: any) => o.name === name)?.localId).filter((x: unknown) => typeof x === "number");
      const now = Date.now();
      await page.modules.WAWebAddonPollVoteTableMode.pollVoteTableMode.bulkUpsert([
        { id: addonKey(u.chatId), pollUpdateParentKey: msg.id, t: now, senderTimestampMs: now, selectedOptionLocalIds: ids, from: voter, author: voter, read: false },
      ]);
    }
  }

  Object.assign(page.modules, {
    WAWebUpdateUnreadChatAction: {
      sendSeen: async ({ chat }: { chat: any }) => {
        chat.set({ unreadCount: 0 });
        await page.query({ op: "read", chatId: chat.id._serialized });
      },
    },
    WAWebChatStateBridge: {
      sendChatStateComposing: (wid: any) => page.query({ op: "presence", chatId: wid._serialized, state: "typing" }),
      sendChatStateRecording: (wid: any) => page.query({ op: "presence", chatId: wid._serialized, state: "recording" }),
      sendChatStatePaused: (wid: any) => page.query({ op: "presence", chatId: wid._serialized, state: "paused" }),
    },
    WAWebSendReactionMsgAction: {
      sendReactionToMsg: async (msg: any, reaction: string) => {
        if (!(await page.query({ op: "react", id: msg.id.id, emoji: reaction }))) throw new Error("the network refused the reaction");
      },
    },
    WAWebMsgActionCapability: {
      canSenderRevokeMsg: (msg: any) => msg.id.fromMe && msg.type !== "revoked",
      canAdminRevokeMsg: () => false,
      canEditText: (msg: any) => msg.id.fromMe && msg.type === "chat",
      canEditCaption: () => false,
    },
    WAWebSendMessageEditAction: {
      sendMessageEdit: async (msg: any, content: string) => {
        if (await page.query({ op: "edit", id: msg.id.id, body: content })) msg.set({ body: content });
      },
    },
    WAWebAddonReactionTableMode: { reactionTableMode: reactionTable },
    WAWebAddonPollVoteTableMode: { pollVoteTableMode: pollVoteTable },
    WAWebChatLoadMessages: { loadEarlierMsgs },
  });
}
