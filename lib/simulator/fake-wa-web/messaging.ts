// The fake page's messaging family: sending (WAWebSendMsgChatAction, WAWebMsgKey, WALinkify,
// WAWebGetEphemeralFieldsMsgActionsUtils, replies through WAWebMsgReply, vCards through
// WAWebVcardParsingUtils), and the network's messages and acks turned into Msg models the client listens to. Runs in the
// browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installMessaging(page: FakePage): void {
  const { Model, MsgKey, createWid } = page;
  const Msg = page.Msg;
  const ACKS = ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"];
  const outgoing = new Map<string, any>();

  page.frames.ack = (f: any) => {
    const m = outgoing.get(f.id);
    if (!m) return;
    const level = ACKS.indexOf(f.ack) - 1;
    if (level > m.ack || level === -1) m.ack = level;
    if (level >= 1 || level === -1) m.sendResult?.(level === -1 ? { messageSendResult: "ERROR" } : { messageSendResult: "OK" });
  };
  page.frames.message = (f: any) => onIncoming(f.message);
  // resends of sends whose SERVER ack was lost: same id, the network drops duplicates
  page.onReady.push(() => {
    for (const [id, m] of outgoing) if (m.ack < 1) page.transmit(sendFrame(id, m));
  });

  /**
   * What the network delivers (messages, then updates about them) waits, in order, until the
   * client listens (it attaches its listeners after `hasSynced`).
   */
  const held: Array<() => void> = [];
  let flushing = false;
  const flush = () => {
    if (flushing) return;
    flushing = true;
    setTimeout(() => {
      flushing = false;
      held.splice(0).forEach((run) => run());
    }, 0);
  };
  page.whenListening = (run: () => unknown): Promise<void> =>
    new Promise((resolve, reject) => {
      const go = () => {
        try {
          Promise.resolve(run()).then(() => resolve(), reject);
        } catch (e) {
          reject(e);
        }
      };
      const listening = Msg.listenerCount("add") > 0;
      if (listening && !held.length) return go();
      held.push(go);
      if (listening) flush();
    });
  Msg.onListen = (name: string) => {
    if (name === "add" && held.length) flush();
  };

  function onIncoming(m: any) {
    void page.whenListening(() => deliverIncoming(m));
  }

  function deliverIncoming(m: any) {
    const key = new MsgKey({ fromMe: false, remote: m.from, id: m.id });
    const synced = Msg.get(key);
    if (synced?.__historyOnly) {
      // the chat list sync loaded it before its delivery: the delivery announces it (once)
      page.Chat.get(synced.id.remote)?.msgs.remove(synced);
      Msg.remove(synced);
    }
    if (!Msg.get(key)) {
      const chat = page.chatFor(createWid(m.from));
      const msg = new Model({
        id: key,
        type: "chat",
        body: m.body,
        t: m.timestamp,
        from: createWid(m.from),
        to: createWid(m.to),
        self: "in",
        ack: 1,
        isNewMsg: true,
        local: false,
      }) as any;
      // what a message may carry besides its body, as WhatsApp Web's Msg attributes
      // a group's message: `from` is the group, `author` the member who wrote it
      if (m.author) msg.set({ author: createWid(m.author) }, { silent: true });
      if (m.replyTo) msg.set({ quotedStanzaID: m.replyTo, quotedRemoteJid: createWid(m.from), quotedParticipant: createWid(m.from) }, { silent: true });
      if (m.mentions?.length) msg.set({ mentionedJidList: m.mentions.map((x: string) => createWid(x)) }, { silent: true });
      if (m.location) msg.set({ type: "location", lat: m.location.latitude, lng: m.location.longitude, loc: [m.location.name, m.location.address].filter(Boolean).join("\n") }, { silent: true });
      if (m.vcard) msg.set({ type: "vcard", body: m.vcard }, { silent: true });
      if (m.poll) msg.set({ type: "poll_creation", pollName: m.poll.name, pollOptions: m.poll.options.map((name: string, localId: number) => ({ name, localId })), pollSelectableOptionsCount: m.poll.multiple ? 0 : 1 }, { silent: true });
      if (m.media) {
        // as WhatsApp Web shows media: a caption, a direct path on the media servers, resolved
        const directPath = `/v/t62.fake/in/${encodeURIComponent(m.id)}`;
        page.media.byPath.set(directPath, { data: m.media.data, mimetype: m.media.mimetype, ...(m.media.filename ? { filename: m.media.filename } : {}) });
        msg.set(
          { type: page.media.typeOf(m.media.mimetype), caption: m.body, mimetype: m.media.mimetype, filename: m.media.filename, directPath, mediaKey: "ZmFrZQ==", filehash: m.id, size: Math.floor((m.media.data.length * 3) / 4), mediaData: { mediaStage: "RESOLVED" } },
          { silent: true },
        );
      }
      chat.msgs.add(msg);
      chat.set({ t: m.timestamp, unreadCount: (chat.unreadCount ?? 0) + 1, lastReceivedKey: key });
      page.touchChat(chat);
      Msg.add(msg);
    }
    // the page has stored it (the client's listeners ran synchronously): the network may forget it
    page.transmit({ t: "recv_ack", id: m.id });
  }

  function sendFrame(id: string, m: any) {
    const media = m.directPath ? page.media.byPath.get(m.directPath) : undefined;
    const extra: Record<string, unknown> = {};
    if (m.quotedStanzaID) extra.replyTo = m.quotedStanzaID;
    if (m.mentionedJidList?.length) extra.mentions = m.mentionedJidList.map((w: any) => w._serialized ?? String(w));
    if (m.type === "location") {
      // whatsapp-web.js joins a location's name and address into one description, a line each
      const [name, ...address] = String(m.loc ?? "").split("\n");
      extra.location = { latitude: Number(m.lat), longitude: Number(m.lng), ...(name ? { name } : {}), ...(address.length ? { address: address.join("\n") } : {}) };
    }
    if (m.type === "vcard") extra.vcard = m.body;
    if (m.type === "poll_creation") extra.poll = { name: m.pollName, options: m.pollOptions.map((o: any) => o.name), multiple: m.pollSelectableOptionsCount === 0 };
    if (m.type === "ptt") extra.voice = true;
    const body = m.type === "vcard" || m.type === "location" || m.type === "poll_creation" ? "" : (m.body ?? "");
    if (!media) return { t: "send", id, to: m.to._serialized, body, ...extra };
    return { t: "send", id, to: m.to._serialized, body: m.caption ?? "", media: { ...media }, ...extra };
  }

  function addAndSend(chat: any, message: Record<string, any>): [Promise<any>, Promise<any>] {
    const msg = new Model({ ...message, ack: 0 }) as any;
    let settle!: (r: any) => void;
    const result = new Promise((resolve) => (settle = resolve));
    msg.sendResult = settle;
    chat.msgs.add(msg);
    chat.set({ t: msg.t, lastReceivedKey: msg.id });
    page.touchChat(chat);
    Msg.add(msg);
    outgoing.set(msg.id.id, msg);
    page.transmit(sendFrame(msg.id.id, msg));
    return [Promise.resolve(msg), result];
  }

  Object.assign(page.modules, {
    WALinkify: { findLink: () => null, findLinks: () => [] },
    WAWebMsgKey: MsgKey,
    WAWebGetEphemeralFieldsMsgActionsUtils: { getEphemeralFields: () => ({}) },
    WAWebSendMsgChatAction: { addAndSendMsgToChat: (chat: any, message: Record<string, any>) => addAndSend(chat, message) },
    WAWebMsgReply: { canReplyMsg: (m: any) => m.type !== "revoked" },
    WAWebVcardParsingUtils: { parseVcard: (text: string) => ({ fn: /^FN:(.*)$/m.exec(text)?.[1]?.trim() ?? "" }) },
    WAWebVcardGetNameFromParsed: { vcardGetNameFromParsed: (parsed: any) => parsed.fn },
  });
  // a quoted message's context, as WhatsApp Web's Msg model gives it to a reply
  page.Model.prototype.msgContextInfo = function (this: any) {
    return { quotedStanzaID: this.id.id, quotedRemoteJid: this.id.remote, quotedParticipant: this.from, quotedMsg: { type: this.type, body: this.body } };
  };
}
