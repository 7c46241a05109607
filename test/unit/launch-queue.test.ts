import { createLaunchQueues, launchKindOf, launchQueueFor, LaunchQueue } from "../../lib/engines/launch-queue";

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("launch queue", () => {
  it("runs at most `concurrency` starts at a time, in arrival order", async () => {
    const q = new LaunchQueue({ concurrency: 2, staggerMs: 0 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      q.run(async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(q.active).toBe(2);
    expect(q.pending).toBe(2);
    gates[1].resolve();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    gates[0].resolve();
    gates[2].resolve();
    gates[3].resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2, 3]);
    expect(q.active).toBe(0);
  });

  it("spaces starts by the stagger", async () => {
    let now = 1000;
    const q = new LaunchQueue({ concurrency: 10, staggerMs: 50 }, () => now);
    const started: number[] = [];
    jest.useFakeTimers();
    try {
      const runs = [0, 1, 2].map((i) => q.run(async () => void started.push(i)));
      expect(started).toEqual([0]);
      now += 50;
      jest.advanceTimersByTime(50);
      expect(started).toEqual([0, 1]);
      now += 50;
      jest.advanceTimersByTime(50);
      expect(started).toEqual([0, 1, 2]);
      await Promise.all(runs);
    } finally {
      jest.useRealTimers();
    }
  });

  it("frees the slot when a start fails, and passes the error on", async () => {
    const q = new LaunchQueue({ concurrency: 1, staggerMs: 0 });
    await expect(q.run(async () => Promise.reject(new Error("chromium missing")))).rejects.toThrow("chromium missing");
    await expect(q.run(async () => "ok")).resolves.toBe("ok");
  });

  it("lets a waiting start leave the queue when it is aborted", async () => {
    const q = new LaunchQueue({ concurrency: 1, staggerMs: 0 });
    const gate = deferred();
    const first = q.run(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const second = q.run(async () => void (ran = true), ac.signal);
    ac.abort(new Error("session stopped"));
    await expect(second).rejects.toThrow("session stopped");
    gate.resolve();
    await first;
    expect(ran).toBe(false);
    expect(q.pending).toBe(0);
  });
});

describe("launch queues by kind of engine", () => {
  it("maps wwebjs to the browser queue, baileys and the simulator to the socket queue, unknown engines to the browser's pace", () => {
    expect(["wwebjs", "baileys", "simulator", "other"].map(launchKindOf)).toEqual(["browser", "socket", "socket", "browser"]);
    const queues = createLaunchQueues({ browser: { concurrency: 2, staggerMs: 200 }, socket: { concurrency: 32, staggerMs: 0 } });
    expect(launchQueueFor(queues, "wwebjs")).toBe(queues.browser);
    expect(launchQueueFor(queues, "baileys")).toBe(queues.socket);
    expect(launchQueueFor(queues, "simulator")).toBe(queues.socket);
    const single = new LaunchQueue({ concurrency: 1, staggerMs: 0 });
    expect(launchQueueFor(single, "baileys")).toBe(single);
  });
});
