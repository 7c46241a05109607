// The fake page's connection family: WAWebSocketModel (Socket: state, hasSynced, logout),
// WAWebCmd, WAWebConnModel, WAWebStreamModel and WAWebOfflineHandler, played over one WebSocket to
// the simulated network (lib/simulator/protocol.ts), with the linked device's credentials in
// IndexedDB inside the Chromium profile LocalAuth keeps. Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

declare const window: any;
declare const indexedDB: any;
declare const location: any;

export function installConnection(page: FakePage): void {
  const { Model, Events, createWid, log, b64decode, cfg } = page;
  const WebSocket = (window as any).WebSocket as any;
  const MAIN_URL = "https://web.whatsapp.com/";
  const DB_NAME = "wawc";

  const Socket = new Model({ state: "OPENING", hasSynced: false, stream: "DISCONNECTED" }) as any;
  const Conn = new Model({ ref: undefined, pushname: undefined, platform: undefined, battery: undefined, plugged: undefined }) as any;
  const Cmd = new Events() as any;
  const Stream = new Model({ available: false }) as any;
  /** The keys the client puts into the QR; taken from the first QR the network shows. */
  const keys: { noise?: Uint8Array; identity?: Uint8Array; adv?: string } = {};
  page.keys = keys;
  page.Socket = Socket;

  Object.assign(page.modules, {
    WAWebSocketModel: { Socket },
    WAWebCmd: { Cmd },
    WAWebConnModel: { Conn },
    WAWebStreamModel: { Stream },
    WAWebOfflineHandler: { OfflineMessageHandler: { getOfflineDeliveryProgress: () => 100 } },
  });

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

  page.transmit = (frame: Record<string, unknown>) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };

  function connect() {
    const url = `${cfg.simUrl.replace(/^http/, "ws").replace(/\/$/, "")}/ws`;
    log(`connecting to ${url} ${creds ? "with" : "without"} credentials`);
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => page.transmit({ t: "hello", creds, client: `fake-wa-web ${page.version}` });
    sock.onmessage = (ev: any) => {
      if (sock !== ws) return;
      let frame: any;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      const handler = page.frames[frame.t];
      if (!handler) return;
      try {
        const r = handler(frame);
        if (r && typeof r.catch === "function") r.catch((e: unknown) => log(`frame ${frame.t} failed: ${e}`));
      } catch (e) {
        log(`frame ${frame.t} failed: ${e}`);
      }
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
      setTimeout(
        () => {
          if (ended || ws) return;
          if (Socket.state !== "UNPAIRED" && Socket.state !== "UNPAIRED_IDLE") Socket.state = "OPENING";
          connect();
        },
        ceiling / 2 + Math.random() * (ceiling / 2),
      );
    };
  }

  Object.assign(page.frames, {
    qr(f: any) {
      attempts = 0;
      const [ref, noise, identity, adv] = String(f.qr).split(",");
      if (!keys.noise) {
        keys.noise = b64decode(noise);
        keys.identity = b64decode(identity);
        keys.adv = adv;
      }
      Conn.ref = ref;
      Socket.state = "UNPAIRED";
    },
    async paired(f: any) {
      creds = f.creds;
      await writeCreds(creds);
    },
    ready(f: any) {
      attempts = 0;
      page.me = createWid(f.me.wid);
      Conn.set({ pushname: f.me.pushname, platform: f.me.platform });
      Socket.set({ state: "CONNECTED", stream: "CONNECTED" });
      // the hooks may sync state from the network first (the chat list): the client is told it is
      // in sync only once they are done, as WhatsApp Web finishes its history sync
      void Promise.all(page.onReady.map((hook) => Promise.resolve().then(hook))).then(markSynced, (e) => {
        log(`ready hook failed: ${e}`);
        markSynced();
      });
    },
    logged_out(f: any) {
      return onLoggedOut(f.reason);
    },
    conflict() {
      ended = true;
      Socket.state = "CONFLICT";
    },
    restricted(f: any) {
      ended = true;
      Socket.state = f.reason;
    },
    error(f: any) {
      log(`network error ${f.code}: ${f.message}`);
    },
  });

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
    page.me = null;
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

  Socket.logout = () =>
    new Promise<void>((resolve) => {
      if (!ws || Socket.state !== "CONNECTED") return resolve();
      loggingOut = resolve;
      ended = true;
      page.transmit({ t: "logout" });
      setTimeout(resolve, 3000);
    });
  Socket.takeover = () => undefined;
  Socket.reconnect = () => undefined;
  Cmd.refreshQR = () => undefined;
  Stream.markAvailable = () => Stream.set({ available: true });
  Stream.markUnavailable = () => Stream.set({ available: false });

  page.boot = () => {
    void (async () => {
      creds = await readCreds().catch((e) => {
        log(`cannot read credentials: ${e}`);
        return undefined;
      });
      window.Debug = { VERSION: page.version };
      if (!cfg.simUrl) {
        log("no simulated network configured (window.__wafleetFakeWaWeb.simUrl)");
        return;
      }
      connect();
    })();
  };
}
