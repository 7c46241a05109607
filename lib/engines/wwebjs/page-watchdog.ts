// The page-side watchdog of the wwebjs engine. Ownership rests on the node: a node that stops
// renewing its lease loses its sessions to another node after the lease TTL plus the takeover
// margin, and a frozen node's connections must be dead by then (docs/architecture.md, "Why two
// nodes never run one session"). With the simulator engine they are, because the connection lives
// in the node's own process. With whatsapp-web.js it lives in Chromium, a separate process that a
// freeze of the Node process alone (SIGSTOP of one pid, an event loop blocked for seconds) leaves
// running: WhatsApp Web would keep its socket open and answer WhatsApp's pings while a new owner
// links the same device elsewhere.
//
// So the page expects a heartbeat. The engine calls `window.__wafleetWatchdog.beat()` every
// `beatMs` while its node may connect (its lease is valid); when no beat has come for `deadlineMs`,
// the page closes every WebSocket it opened, terminates the dedicated workers it started (and their
// sockets), and refuses new ones. The next beat that gets through answers `true` ("severed"), and
// the engine ends that browser and starts a fresh one through its restart policy, which waits for
// the lease like any relaunch. A page that itself could not run for a while (its main thread busy
// loading WhatsApp Web) does not count that time against the node.

export interface PageWatchdogOptions {
  /** No beat for this long: the page cuts itself off. */
  deadlineMs: number;
  /** How often the page checks. */
  checkMs: number;
}

/** The timings for a lease of `leaseTtlMs`: half the TTL to the cut, a beat every 1 s or faster. */
export function pageWatchdogTimings(leaseTtlMs: number): { deadlineMs: number; beatMs: number; checkMs: number } {
  const deadlineMs = Math.max(500, Math.floor(leaseTtlMs / 2));
  return { deadlineMs, beatMs: Math.min(1000, Math.floor(deadlineMs / 4)), checkMs: Math.min(250, Math.floor(deadlineMs / 6)) };
}

/** The script evaluated in the page before WhatsApp Web's own (whatsapp-web.js's `evalOnNewDoc`). */
export function pageWatchdogScript(o: PageWatchdogOptions): string {
  return `(${installPageWatchdog.toString()})(${JSON.stringify(o)});`;
}

/** Runs in the page: serialised by pageWatchdogScript, so it may use nothing from this module. */
function installPageWatchdog(o: PageWatchdogOptions): void {
  const w = globalThis as any;
  if (w.__wafleetWatchdog) return;
  const state = { beat: Date.now(), lastCheck: Date.now(), severed: false, reason: "" };
  const sockets = new Set<any>();
  const workers = new Set<any>();
  const sever = (reason: string) => {
    if (state.severed) return;
    state.severed = true;
    state.reason = reason;
    for (const s of sockets) {
      try {
        s.close(4000, "wafleet: node heartbeat lost");
      } catch {
        // already closing
      }
    }
    for (const worker of workers) {
      try {
        worker.terminate();
      } catch {
        // already gone
      }
    }
    sockets.clear();
    workers.clear();
    console.warn(`[wafleet] ${reason}: WhatsApp Web cut off`);
  };
  const guard = (Native: any, track: Set<any>, onCreate: (instance: any) => void) =>
    new Proxy(Native, {
      construct(target: any, args: any[], newTarget: any): object {
        if (state.severed) throw new DOMException("wafleet: this page lost its node's heartbeat", "SecurityError");
        const instance: object = Reflect.construct(target, args, newTarget === w.WebSocket || newTarget === w.Worker ? target : newTarget);
        track.add(instance);
        onCreate(instance);
        return instance;
      },
    });
  if (typeof w.WebSocket === "function") w.WebSocket = guard(w.WebSocket, sockets, (s) => s.addEventListener("close", () => sockets.delete(s)));
  if (typeof w.Worker === "function") w.Worker = guard(w.Worker, workers, () => undefined);
  Object.defineProperty(w, "__wafleetWatchdog", {
    value: Object.freeze({
      /** A heartbeat from the node; answers whether the page has already cut itself off. */
      beat(): boolean {
        if (!state.severed) state.beat = Date.now();
        return state.severed;
      },
      status: () => ({ severed: state.severed, reason: state.reason, sinceBeatMs: Date.now() - state.beat }),
    }),
  });
  setInterval(() => {
    const now = Date.now();
    // the page itself did not run (its main thread was busy): that time is not the node's silence
    const stalled = now - state.lastCheck - o.checkMs;
    if (stalled > o.checkMs) state.beat += stalled;
    state.lastCheck = now;
    if (!state.severed && now - state.beat > o.deadlineMs) sever(`no heartbeat from the node for ${now - state.beat} ms (deadline ${o.deadlineMs} ms)`);
  }, o.checkMs);
}
