import vm from "node:vm";
import fc from "fast-check";
import { pageWatchdogScript, pageWatchdogTimings } from "../../lib/engines/wwebjs/page-watchdog";

/** A page stand-in: the script runs in its own context with a clock and timers the test drives. */
function fakePage() {
  let now = 1_000_000;
  const timers: Array<{ fn: () => void; every: number; due: number }> = [];
  class FakeSocket {
    closed = false;
    private listeners: Array<() => void> = [];
    constructor(readonly url: string) {}
    addEventListener(_: string, fn: () => void) {
      this.listeners.push(fn);
    }
    close() {
      this.closed = true;
      for (const fn of this.listeners) fn();
    }
  }
  class FakeWorker {
    terminated = false;
    constructor(readonly url: string) {}
    terminate() {
      this.terminated = true;
    }
  }
  const context: any = {
    WebSocket: FakeSocket,
    Worker: FakeWorker,
    DOMException: class extends Error {},
    Date: { now: () => now },
    console: { warn: () => undefined },
    setInterval: (fn: () => void, every: number) => timers.push({ fn, every, due: now + every }),
  };
  context.globalThis = context;
  vm.createContext(context);
  return {
    context,
    run: (code: string) => vm.runInContext(code, context),
    /** Advances the clock; `runTimers: false` = the page's thread was busy meanwhile. */
    advance(ms: number, runTimers = true) {
      const end = now + ms;
      if (!runTimers) {
        now = end;
        return;
      }
      for (;;) {
        const next = timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
        if (!next) break;
        now = Math.max(now, next.due);
        next.due = now + next.every;
        next.fn();
      }
      now = end;
    },
  };
}

describe("page watchdog timings", () => {
  it("cut a frozen node's pages off before its lease can be taken over (b + D + c < 2T/3 + m, m >= 250 ms)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 600_000 }), fc.integer({ min: 250, max: 600_000 }), (ttl, margin) => {
        const t = pageWatchdogTimings(ttl);
        expect(t.beatMs).toBeGreaterThan(0);
        expect(t.beatMs).toBeLessThanOrEqual(t.deadlineMs / 4);
        expect(t.checkMs).toBeGreaterThan(0);
        expect(t.beatMs + t.deadlineMs + t.checkMs).toBeLessThan((2 * ttl) / 3 + margin);
      }),
    );
    expect(pageWatchdogTimings(10_000)).toEqual({ deadlineMs: 5000, beatMs: 1000, checkMs: 250 });
  });
});

describe("the page watchdog script", () => {
  const o = { deadlineMs: 1500, checkMs: 100 };

  it("keeps sockets open while beats come, then closes them, ends workers and refuses new ones", () => {
    const page = fakePage();
    page.run(pageWatchdogScript(o));
    const ws = page.run(`new WebSocket("wss://web.whatsapp.com/ws/chat")`);
    const worker = page.run(`new Worker("worker.js")`);
    expect(page.run("ws => ws instanceof WebSocket")(ws)).toBe(true);
    for (let i = 0; i < 20; i++) {
      page.advance(500);
      expect(page.run("__wafleetWatchdog.beat()")).toBe(false);
    }
    expect(ws.closed).toBe(false);

    page.advance(1400);
    expect(ws.closed).toBe(false);
    page.advance(300);
    expect(ws.closed).toBe(true);
    expect(worker.terminated).toBe(true);
    expect(page.run("__wafleetWatchdog.status()")).toMatchObject({ severed: true, reason: expect.stringMatching(/no heartbeat from the node/) });
    expect(() => page.run(`new WebSocket("wss://web.whatsapp.com/ws/chat")`)).toThrow(/lost its node's heartbeat/);
    // a late beat does not undo it: it reports the cut
    expect(page.run("__wafleetWatchdog.beat()")).toBe(true);
  });

  it("does not count time the page itself could not run", () => {
    const page = fakePage();
    page.run(pageWatchdogScript(o));
    const ws = page.run(`new WebSocket("wss://x")`);
    page.advance(5000, false); // the page's thread was busy: no timer ran
    page.advance(100); // its first check after the stall
    expect(ws.closed).toBe(false);
    page.advance(1300); // now the node's silence counts
    expect(ws.closed).toBe(false);
    page.advance(300);
    expect(ws.closed).toBe(true);
  });

  it("installs once per document", () => {
    const page = fakePage();
    page.run(pageWatchdogScript(o));
    const first = page.context.WebSocket;
    page.run(pageWatchdogScript(o));
    expect(page.context.WebSocket).toBe(first);
  });
});
