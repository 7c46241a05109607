// The fake WhatsApp Web page's script. It runs inside Chromium (serialised with Function#toString
// into `<version>.html`), so it must stay self-contained: no imports, no helpers from outside.
// It plays WhatsApp Web for whatsapp-web.js 1.34.7: `window.Debug.VERSION`, a `window.require(name)`
// module loader with the modules the client reads, Backbone-like models and collections, and one
// WebSocket to the simulated WhatsApp network (lib/simulator/protocol.ts) opened from the page.

// Browser globals, declared here rather than pulling the DOM lib into the Node program.
declare const window: any;
declare const indexedDB: any;
declare const location: any;

/** What the page reads from `window.__wafleetFakeWaWeb` (set before the page runs, see index.ts). */
export interface FakePageConfig {
  /** `http://host:port` of the simulated network. */
  simUrl: string;
  /** Reconnect backoff, ms. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

export function fakeWhatsAppWebPage(version: string, moduleNames: string[]): void {
  const w = window as any;
  const WebSocket = w.WebSocket as any;
  const cfg = (w.__wafleetFakeWaWeb ?? {}) as FakePageConfig;
  const MAIN_URL = "https://web.whatsapp.com/";
  const ACKS = ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"];
  const DB_NAME = "wawc";

  // --- what the client asked for (tests compare it across whatsapp-web.js upgrades) ---
  const requested: string[] = [];
  const unknown: string[] = [];
  const diag: { requested: string[]; unknown: string[]; log: string[] } = { requested, unknown, log: [] };
  w.__fakeWaWeb = diag;
  const log = (m: string) => {
    diag.log.push(`${new Date().toISOString()} ${m}`);
    if (diag.log.length > 200) diag.log.shift();
  };

  // --- Backbone-like events, models and collections ---
  class Events {
    _ev: Map<string, Array<{ cb: (...a: any[]) => unknown; once: boolean }>> = new Map();
    on(names: string, cb: (...a: any[]) => unknown) {
      for (const n of names.split(/\s+/).filter(Boolean)) {
        if (!this._ev.has(n)) this._ev.set(n, []);
        this._ev.get(n)!.push({ cb, once: false });
        this.onListen(n);
      }
      return this;
    }
    once(names: string, cb: (...a: any[]) => unknown) {
      for (const n of names.split(/\s+/).filter(Boolean)) {
        if (!this._ev.has(n)) this._ev.set(n, []);
        this._ev.get(n)!.push({ cb, once: true });
      }
      return this;
    }
    off(names?: string, cb?: (...a: any[]) => unknown) {
      if (!names) {
        this._ev.clear();
        return this;
      }
      for (const n of names.split(/\s+/).filter(Boolean)) {
        const list = this._ev.get(n);
        if (!list) continue;
        this._ev.set(
          n,
          list.filter((l) => cb && l.cb !== cb),
        );
      }
      return this;
    }
    listenerCount(name: string): number {
      return this._ev.get(name)?.length ?? 0;
    }
    trigger(name: string, ...args: any[]) {
      const list = this._ev.get(name);
      if (!list) return this;
      for (const l of [...list]) {
        if (l.once) this._ev.set(name, (this._ev.get(name) ?? []).filter((x) => x !== l));
        try {
          const r = l.cb.apply(this, args);
          if (r && typeof (r as Promise<unknown>).catch === "function") (r as Promise<unknown>).catch((e) => log(`listener of ${name} rejected: ${e}`));
        } catch (e) {
          log(`listener of ${name} threw: ${e}`);
        }
      }
      return this;
    }
    onListen(_name: string): void {}
  }

  class Model extends Events {
    attributes: Record<string, any> = {};
    collection: Collection | undefined;
    constructor(attrs: Record<string, any> = {}) {
      super();
      this.set(attrs, { silent: true });
    }
    get(key: string) {
      return this.attributes[key];
    }
    set(attrs: Record<string, any>, opts: { silent?: boolean } = {}) {
      const changed: Array<[string, any, any]> = [];
      for (const [k, v] of Object.entries(attrs)) {
        if (!Object.prototype.hasOwnProperty.call(this, k) && !(k in Model.prototype) && !(k in Object.getPrototypeOf(this))) {
          Object.defineProperty(this, k, {
            get: () => this.attributes[k],
            set: (nv) => this.set({ [k]: nv }),
            enumerable: false,
            configurable: true,
          });
        }
        const prev = this.attributes[k];
        if (prev === v) continue;
        this.attributes[k] = v;
        changed.push([k, v, prev]);
      }
      if (opts.silent || !changed.length) return this;
      for (const [k, v, prev] of changed) this.emitAll(`change:${k}`, this, v, prev);
      this.emitAll("change", this);
      return this;
    }
    /** Model events also fire on the model's collection, as in Backbone. */
    emitAll(name: string, ...args: any[]) {
      this.trigger(name, ...args);
      this.collection?.trigger(name, ...args);
    }
    serialize() {
      const out: Record<string, any> = {};
      for (const [k, v] of Object.entries(this.attributes)) out[k] = v instanceof Collection ? v.getModelsArray().map((m) => m.serialize()) : v;
      return out;
    }
    unsafe() {
      return this;
    }
  }

  class Collection extends Events {
    models: Model[] = [];
    byId = new Map<string, Model>();
    constructor(readonly modelClass: typeof Model = Model) {
      super();
    }
    static keyOf(id: any): string {
      return typeof id === "string" ? id : (id?._serialized ?? String(id));
    }
    get(id: any) {
      return this.byId.get(Collection.keyOf(id));
    }
    async find(id: any) {
      return this.get(id);
    }
    add(model: Model) {
      const key = Collection.keyOf(model.get("id"));
      if (this.byId.has(key)) return this.byId.get(key)!;
      model.collection = this;
      this.models.push(model);
      this.byId.set(key, model);
      this.trigger("add", model, this);
      return model;
    }
    remove(model: Model) {
      const key = Collection.keyOf(model.get("id"));
      if (!this.byId.delete(key)) return;
      this.models = this.models.filter((m) => m !== model);
      this.trigger("remove", model, this);
    }
    getModelsArray() {
      return [...this.models];
    }
    get length() {
      return this.models.length;
    }
    async getMessagesById(ids: string[]) {
      return { messages: ids.map((id) => this.get(id)).filter(Boolean) };
    }
  }

  // --- WhatsApp ids and message keys ---
  class Wid {
    user: string;
    server: string;
    _serialized: string;
    constructor(serialized: string) {
      const at = serialized.indexOf("@");
      this.user = at < 0 ? serialized : serialized.slice(0, at);
      this.server = at < 0 ? "c.us" : serialized.slice(at + 1);
      this._serialized = `${this.user}@${this.server}`;
    }
    isLid() {
      return this.server === "lid";
    }
    isGroup() {
      return this.server === "g.us";
    }
    isUser() {
      return this.server === "c.us" || this.server === "lid";
    }
    isStatus() {
      return this.user === "status" && this.server === "broadcast";
    }
    isBroadcast() {
      return this.server === "broadcast";
    }
    isNewsletter() {
      return this.server === "newsletter";
    }
    equals(o: any) {
      return Collection.keyOf(o) === this._serialized;
    }
    toString() {
      return this._serialized;
    }
    toJid() {
      return this._serialized.replace("@c.us", "@s.whatsapp.net");
    }
  }
  const createWid = (id: any): Wid => {
    if (id instanceof Wid) return id;
    const s = Collection.keyOf(id);
    return new Wid(s.includes("@") ? s : `${s}@c.us`);
  };

  class MsgKey {
    fromMe: boolean;
    remote: Wid;
    id: string;
    participant: Wid | undefined;
    _serialized: string;
    constructor(o: { from?: any; to?: any; id: string; participant?: any; selfDir?: string; fromMe?: boolean; remote?: any }) {
      this.fromMe = o.fromMe ?? o.selfDir === "out";
      this.remote = createWid(o.remote ?? (this.fromMe ? o.to : o.from));
      this.id = o.id;
      this.participant = o.participant ? createWid(o.participant) : undefined;
      this._serialized = `${this.fromMe}_${this.remote._serialized}_${this.id}`;
    }
    toString() {
      return this._serialized;
    }
    static async newId() {
      const bytes = new Uint8Array(10);
      crypto.getRandomValues(bytes);
      return `3EB0${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase()}`;
    }
  }

  // --- the WA modules ---
  const b64encode = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  const b64decode = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

  const Socket = new Model({ state: "OPENING", hasSynced: false, stream: "DISCONNECTED" }) as any;
  const Conn = new Model({ ref: undefined, pushname: undefined, platform: undefined, battery: undefined, plugged: undefined }) as any;
  const Cmd = new Events() as any;
  const Stream = new Model({ available: false }) as any;
  const Msg = new Collection(Model) as any;
  const Chat = new Collection(Model) as any;
  const Contact = new Collection(Model) as any;
  /** The keys the client puts into the QR; taken from the first QR the network shows. */
  const keys: { noise?: Uint8Array; identity?: Uint8Array; adv?: string } = {};
  let me: Wid | null = null;

  // --- media: WhatsApp Web uploads to and downloads from its media servers; here both are a map ---
  const mediaByHash = new Map<string, { data: string; mimetype: string; filename?: string }>();
  const mediaByPath = new Map<string, { data: string; mimetype: string; filename?: string }>();
  const mediaTypeOf = (mimetype: string) => (/^image\//.test(mimetype) ? "image" : /^video\//.test(mimetype) ? "video" : /^audio\//.test(mimetype) ? "audio" : "document");
  class OpaqueData {
    constructor(
      readonly file: any,
      readonly type: string,
    ) {}
    static async createFromData(file: any, mimetype: string) {
      return new OpaqueData(file, mimetype);
    }
    url() {
      return "blob:https://web.whatsapp.com/fake";
    }
    autorelease() {}
    formData() {
      return this.file;
    }
  }
  /** A plain object (its fields are spread into the message), with `toJSON`/`set` kept out of the spread. */
  function mediaData(fields: Record<string, any>) {
    const md: Record<string, any> = { ...fields };
    Object.defineProperty(md, "toJSON", { value: () => ({ ...md, mediaBlob: undefined }), enumerable: false });
    Object.defineProperty(md, "set", { value: (o: Record<string, any>) => Object.assign(md, o), enumerable: false });
    return md;
  }
  async function prep(opaque: OpaqueData, params: { asDocument?: boolean; isPtt?: boolean }) {
    const bytes = new Uint8Array(await opaque.file.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const filehash = b64encode(digest);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    // the library names a File without a filename "undefined" (or "null"): that is no name
    const name = opaque.file.name && opaque.file.name !== "undefined" && opaque.file.name !== "null" ? String(opaque.file.name) : undefined;
    mediaByHash.set(filehash, { data: btoa(binary), mimetype: opaque.type, ...(name ? { filename: name } : {}) });
    const type = params.asDocument ? "document" : params.isPtt ? "ptt" : mediaTypeOf(opaque.type);
    return mediaData({ type, mimetype: opaque.type, filehash, size: bytes.length, filename: name, isGif: false, mediaBlob: opaque });
  }

  const modules: Record<string, any> = {
    WAWebSocketModel: { Socket },
    WAWebCmd: { Cmd },
    WAWebConnModel: { Conn },
    WAWebStreamModel: { Stream },
    WAWebOfflineHandler: { OfflineMessageHandler: { getOfflineDeliveryProgress: () => 100 } },
    WAWebAltDeviceLinkingApi: {
      setPairingType: (_t: string) => undefined,
      initializeAltDeviceLinking: async () => undefined,
      initializeQRLinking: async () => undefined,
      startAltLinkingFlow: (phone: string) => requestPairingCode(phone),
    },
    WABase64: { encodeB64: b64encode, decodeB64: b64decode },
    WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: "Chrome" },
    WAWebAdvSignatureApi: {},
    WAWebUserPrefsInfoStore: { waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: keys.noise } }) } },
    WAWebSignalStoreApi: { waSignalStore: { getRegistrationInfo: async () => ({ identityKeyPair: { pubKey: keys.identity } }) } },
    WAWebUserPrefsMultiDevice: { getADVSecretKey: () => keys.adv },
    WAWebUserPrefsMeUser: { getMaybeMePnUser: () => me, getMaybeMeLidUser: () => null, getMeUser: () => me },
    WAWebCollections: { Msg, Chat, Contact },
    WAWebSyncGatingUtils: { isPlaceholderMessageResendEnabled: () => false },
    WAWebWidFactory: {
      createWid,
      createWidFromWidLike: createWid,
      createUserWid: (user: string, server = "c.us") => createWid(`${user}@${server}`),
      asUserWidOrThrow: (wid: any) => createWid(wid),
    },
    WAWebQueryExistsJob: { queryWidExists: async (wid: any) => ({ wid: createWid(wid) }) },
    WAWebFindChatAction: { findOrCreateLatestChat: async (wid: any) => ({ chat: chatFor(createWid(wid)), created: true }) },
    WAWebUpdateUnreadChatAction: { sendSeen: async ({ chat }: { chat: any }) => chat.set({ unreadCount: 0 }) },
    WAWebChatGetters: { getIsNewsletter: (chat: any) => chat.id.isNewsletter(), getIsBroadcast: (chat: any) => chat.id.isBroadcast() },
    WALinkify: { findLink: () => null, findLinks: () => [] },
    WAWebMsgKey: MsgKey,
    WAWebGetEphemeralFieldsMsgActionsUtils: { getEphemeralFields: () => ({}) },
    WAWebSendMsgChatAction: { addAndSendMsgToChat: (chat: any, message: Record<string, any>) => addAndSend(chat, message) },
    WAWebMediaOpaqueData: OpaqueData,
    WAWebPrepRawMedia: { prepRawMedia: (opaque: OpaqueData, params: Record<string, any>) => ({ waitForPrep: () => prep(opaque, params) }) },
    WAWebMediaStorage: {
      getOrCreateMediaObject: (filehash: string) => {
        const o: Record<string, any> = { filehash, contentInfo: {} };
        o.consolidate = (json: Record<string, any>) => Object.assign(o, json);
        return o;
      },
    },
    WAWebMmsMediaTypes: { msgToMediaType: ({ type }: { type: string }) => type, castToV4: (t: string) => t },
    WAWebMediaDataUtils: { shouldUseMediaCache: () => false },
    WAWebMediaMmsV4Upload: {
      uploadMedia: async ({ mediaObject }: { mediaObject: any }) => {
        const directPath = `/v/t62.fake/${encodeURIComponent(mediaObject.filehash)}`;
        const media = mediaByHash.get(mediaObject.filehash);
        if (media) mediaByPath.set(directPath, media);
        return { mediaEntry: { mmsUrl: `https://mmg.whatsapp.net${directPath}`, directPath, mediaKey: "ZmFrZQ==", mediaKeyTimestamp: Math.floor(Date.now() / 1000), encFilehash: mediaObject.filehash, uploadHash: mediaObject.filehash, handle: null } };
      },
    },
    WAWebDownloadManager: {
      downloadManager: {
        downloadAndMaybeDecrypt: async ({ directPath }: { directPath: string }) => {
          const media = mediaByPath.get(directPath);
          if (!media) throw Object.assign(new Error("media not found"), { status: 404 });
          return b64decode(media.data).buffer;
        },
      },
    },
  };
  for (const name of moduleNames) if (!(name in modules)) modules[name] = undefined;

  w.Debug = undefined;
  w.require = (name: string) => {
    if (!requested.includes(name)) requested.push(name);
    if (!(name in modules)) {
      // optional modules are `undefined`, as WhatsApp's loader returns for what a build lacks
      if (!unknown.includes(name)) unknown.push(name);
      return undefined;
    }
    return modules[name];
  };

  function chatFor(wid: Wid) {
    let chat = Chat.get(wid);
    if (!chat) chat = Chat.add(new Model({ id: wid, t: 0, unreadCount: 0, archive: false, formattedTitle: wid.user, msgs: new Collection(Model), mute: { expiration: 0 } }));
    return chat;
  }

  // --- credentials in IndexedDB (inside the Chromium profile LocalAuth keeps) ---
  function db(): Promise<any> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore("user");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  async function readCreds(): Promise<any> {
    const d = await db();
    return new Promise((resolve, reject) => {
      const req = d.transaction("user").objectStore("user").get("creds");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }).finally(() => d.close());
  }
  async function writeCreds(creds: any): Promise<void> {
    const d = await db();
    await new Promise<void>((resolve, reject) => {
      // strict durability: the credentials reach the disk before the page says it is linked
      const tx = d.transaction("user", "readwrite", { durability: "strict" });
      if (creds === undefined) tx.objectStore("user").delete("creds");
      else tx.objectStore("user").put(creds, "creds");
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    }).finally(() => d.close());
  }

  // --- the connection to the simulated network ---
  let ws: any;
  let creds: any;
  let attempts = 0;
  let ended = false;
  let loggingOut: (() => void) | undefined;
  let readyPending = false;
  const codeWaiters: Array<(code: string) => void> = [];
  const outgoing = new Map<string, any>();

  function transmit(frame: Record<string, unknown>) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function connect() {
    const url = `${cfg.simUrl.replace(/^http/, "ws").replace(/\/$/, "")}/ws`;
    log(`connecting to ${url} ${creds ? "with" : "without"} credentials`);
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => transmit({ t: "hello", creds, client: `fake-wa-web ${version}` });
    sock.onmessage = (ev: any) => {
      if (sock !== ws) return;
      let frame: any;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      void onFrame(frame).catch((e) => log(`frame ${frame.t} failed: ${e}`));
    };
    sock.onclose = () => {
      if (sock !== ws) return;
      ws = undefined;
      if (loggingOut) {
        loggingOut();
        return;
      }
      if (ended) return;
      // WhatsApp Web shows "connecting" and retries; the client treats TIMEOUT/OPENING as transient
      if (Socket.state === "CONNECTED") Socket.state = "TIMEOUT";
      const base = cfg.reconnectBaseMs ?? 300;
      const ceiling = Math.min(cfg.reconnectMaxMs ?? 5000, base * 2 ** Math.min(attempts++, 20));
      setTimeout(() => {
        if (ended || ws) return;
        if (Socket.state !== "UNPAIRED" && Socket.state !== "UNPAIRED_IDLE") Socket.state = "OPENING";
        connect();
      }, ceiling / 2 + Math.random() * (ceiling / 2));
    };
  }

  async function onFrame(f: any) {
    switch (f.t) {
      case "qr": {
        attempts = 0;
        const [ref, noise, identity, adv] = String(f.qr).split(",");
        if (!keys.noise) {
          keys.noise = b64decode(noise);
          keys.identity = b64decode(identity);
          keys.adv = adv;
        }
        Conn.ref = ref;
        Socket.state = "UNPAIRED";
        return;
      }
      case "code":
        for (const resolve of codeWaiters.splice(0)) resolve(f.code);
        return;
      case "paired":
        creds = f.creds;
        await writeCreds(creds);
        return;
      case "ready": {
        attempts = 0;
        me = createWid(f.me.wid);
        Conn.set({ pushname: f.me.pushname, platform: f.me.platform });
        Socket.set({ state: "CONNECTED", stream: "CONNECTED" });
        // resends of sends whose SERVER ack was lost: same id, the network drops duplicates
        for (const [id, m] of outgoing) if (m.ack < 1) transmit(sendFrame(id, m));
        markSynced();
        return;
      }
      case "ack": {
        const m = outgoing.get(f.id);
        if (!m) return;
        const level = ACKS.indexOf(f.ack) - 1;
        if (level > m.ack || level === -1) m.ack = level;
        if (level >= 1 || level === -1) m.sendResult?.(level === -1 ? { messageSendResult: "ERROR" } : { messageSendResult: "OK" });
        return;
      }
      case "message":
        onIncoming(f.message);
        return;
      case "logged_out":
        return onLoggedOut(f.reason);
      case "conflict":
        ended = true;
        Socket.state = "CONFLICT";
        return;
      case "error":
        log(`network error ${f.code}: ${f.message}`);
        return;
    }
  }

  /** `hasSynced` flips only once the client listens for it, or its `ready` would never come. */
  function markSynced() {
    if (Socket.hasSynced) return;
    readyPending = true;
    if (Socket.listenerCount("change:hasSynced") > 0) {
      readyPending = false;
      Socket.hasSynced = true;
    }
  }
  Socket.onListen = (name: string) => {
    if (name === "change:hasSynced" && readyPending) setTimeout(markSynced, 0);
  };

  async function onLoggedOut(reason: string) {
    const wasReady = Boolean(Socket.hasSynced);
    const ours = loggingOut !== undefined;
    // decided before anything awaits: the network closes the socket right after this frame
    if (ours || wasReady) ended = true;
    creds = undefined;
    me = null;
    await writeCreds(undefined);
    if (ours) return; // our own logout: the client closes the browser next
    if (reason === "LOGOUT" && wasReady) {
      // WhatsApp Web after an unlink from the phone: Cmd logout, then back to the start page
      Cmd.trigger("logout");
      setTimeout(() => location.replace(MAIN_URL), 300);
      return;
    }
    if (wasReady) {
      Socket.state = "UNPAIRED";
      return;
    }
    // credentials the network does not know at start: the reconnect asks for a QR instead
  }

  /** Incoming messages wait until the client listens for them (it attaches after `hasSynced`). */
  const heldIncoming: any[] = [];
  Msg.onListen = (name: string) => {
    if (name === "add" && heldIncoming.length) setTimeout(() => heldIncoming.splice(0).forEach(onIncoming), 0);
  };

  function onIncoming(m: any) {
    if (Msg.listenerCount("add") === 0) {
      heldIncoming.push(m);
      return;
    }
    const key = new MsgKey({ fromMe: false, remote: m.from, id: m.id });
    if (!Msg.get(key)) {
      const chat = chatFor(createWid(m.from));
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
      });
      if (m.media) {
        // as WhatsApp Web shows media: a caption, a direct path on the media servers, resolved
        const directPath = `/v/t62.fake/in/${encodeURIComponent(m.id)}`;
        mediaByPath.set(directPath, { data: m.media.data, mimetype: m.media.mimetype, ...(m.media.filename ? { filename: m.media.filename } : {}) });
        msg.set(
          { type: mediaTypeOf(m.media.mimetype), caption: m.body, mimetype: m.media.mimetype, filename: m.media.filename, directPath, mediaKey: "ZmFrZQ==", filehash: m.id, size: Math.floor((m.media.data.length * 3) / 4), mediaData: { mediaStage: "RESOLVED" } },
          { silent: true },
        );
      }
      chat.msgs.add(msg);
      chat.set({ t: m.timestamp });
      Msg.add(msg);
    }
    // the page has stored it (the client's listeners ran synchronously): the network may forget it
    transmit({ t: "recv_ack", id: m.id });
  }

  function sendFrame(id: string, m: any) {
    const media = m.directPath ? mediaByPath.get(m.directPath) : undefined;
    if (!media) return { t: "send", id, to: m.to._serialized, body: m.body ?? "" };
    return { t: "send", id, to: m.to._serialized, body: m.caption ?? "", media: { ...media } };
  }

  function addAndSend(chat: any, message: Record<string, any>): [Promise<any>, Promise<any>] {
    const msg = new Model({ ...message, ack: 0 }) as any;
    let settle!: (r: any) => void;
    const result = new Promise((resolve) => (settle = resolve));
    msg.sendResult = settle;
    chat.msgs.add(msg);
    Msg.add(msg);
    outgoing.set(msg.id.id, msg);
    transmit(sendFrame(msg.id.id, msg));
    return [Promise.resolve(msg), result];
  }

  function requestPairingCode(phone: string): Promise<string> {
    return new Promise((resolve) => {
      codeWaiters.push(resolve);
      transmit({ t: "pair_code", phone: String(phone) });
    });
  }

  Socket.logout = () =>
    new Promise<void>((resolve) => {
      if (!ws || Socket.state !== "CONNECTED") return resolve();
      loggingOut = resolve;
      ended = true;
      transmit({ t: "logout" });
      setTimeout(resolve, 3000);
    });
  Socket.takeover = () => undefined;
  Socket.reconnect = () => undefined;
  Cmd.refreshQR = () => undefined;
  Stream.markAvailable = () => Stream.set({ available: true });
  Stream.markUnavailable = () => Stream.set({ available: false });

  async function boot() {
    creds = await readCreds().catch((e) => {
      log(`cannot read credentials: ${e}`);
      return undefined;
    });
    w.Debug = { VERSION: version };
    if (!cfg.simUrl) {
      log("no simulated network configured (window.__wafleetFakeWaWeb.simUrl)");
      return;
    }
    connect();
  }
  void boot();
}
