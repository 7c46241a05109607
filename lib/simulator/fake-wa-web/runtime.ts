// The fake WhatsApp Web page's runtime: what every WA module family of the page builds on. Runs
// inside Chromium (serialised with Function#toString into `<version>.html`, see index.ts), so it
// must stay self-contained: no imports at run time, only `import type`. It provides WhatsApp Web's
// Backbone-like events, models and collections, ids (Wid) and message keys, the diagnostics the
// tests read, and the registry `window.require` answers from.

// Browser globals, declared here rather than pulling the DOM lib into the Node program.
declare const window: any;

/** What the page reads from `window.__wafleetFakeWaWeb` (set before the page runs, see index.ts). */
export interface FakePageConfig {
  /** `http://host:port` of the simulated network. */
  simUrl: string;
  /** Reconnect backoff, ms. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

/** The runtime each family installs its modules into (loosely typed: it lives in the browser). */
export interface FakePage {
  version: string;
  cfg: FakePageConfig;
  log(message: string): void;
  /** The WA modules by name, as `window.require` returns them. */
  modules: Record<string, any>;
  Events: any;
  Model: any;
  Collection: any;
  Wid: any;
  MsgKey: any;
  createWid(id: any): any;
  b64encode(bytes: Uint8Array): string;
  b64decode(text: string): Uint8Array;
  /** The linked account (a Wid), once the network said ready. */
  me: any;
  /** Sends a frame to the simulated network (set by the connection family). */
  transmit(frame: Record<string, unknown>): void;
  /** Handlers of the network's frames, by frame type; each family adds its own. */
  frames: Record<string, (frame: any) => void | Promise<void>>;
  /** Run, in order, when the network says ready, before the client is told it is in sync. */
  onReady: Array<() => void | Promise<void>>;
  /** Starts the page (set by the connection family, called once every family is installed). */
  boot(): void;
  [family: string]: any;
}

export function fakePageRuntime(version: string): FakePage {
  const w = window as any;
  const cfg = (w.__wafleetFakeWaWeb ?? {}) as FakePageConfig;

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
    /** As Backbone's: the attributes (what crosses into Node when a model is handed to an exposed function) */
    toJSON() {
      return this.serialize();
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
    /** Backbone's collections have underscore's methods (whatsapp-web.js filters Chat) */
    filter(fn: (m: Model) => boolean) {
      return this.models.filter(fn);
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

  const modules: Record<string, any> = {};
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

  const page: FakePage = {
    version,
    cfg,
    log,
    modules,
    Events,
    Model,
    Collection,
    Wid,
    MsgKey,
    createWid,
    b64encode: (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)),
    b64decode: (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)),
    me: null,
    transmit: () => undefined,
    frames: {},
    onReady: [],
    boot: () => undefined,
  };
  return page;
}

/**
 * Last: optional modules answer `undefined` (not "unknown"); the network's updates, whichever
 * family handles them, are acknowledged once applied (the network keeps each until then and sends
 * it again after a reconnect: one already applied is only acknowledged); then the page starts.
 */
export function startFakePage(page: FakePage, optionalModules: string[]): void {
  for (const name of optionalModules) if (!(name in page.modules)) page.modules[name] = undefined;
  const handle = page.frames.update;
  const applied = new Set<string>();
  page.frames.update = async (f: any) => {
    const uid = typeof f.uid === "string" ? f.uid : undefined;
    if (uid && applied.has(uid)) return page.transmit({ t: "update_ack", uid });
    try {
      await handle?.(f);
    } catch (e) {
      page.log(`update ${f.update?.kind} not applied: ${e}`);
      return;
    }
    if (!uid) return;
    applied.add(uid);
    page.transmit({ t: "update_ack", uid });
  };
  page.boot();
}
