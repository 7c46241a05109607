// The simulated network's keepalive schedule (lib/simulator/keepalive.ts): each connection is
// pinged once per K/2, the connections spread over the ticks, a tick touching only its own slot,
// and one that leaves a ping unanswered for K is dropped.
import { KEEPALIVE_SLOTS, KeepaliveSchedule, type KeepaliveTarget } from "../../lib/simulator/keepalive";

const K = 5000;

/** A connection as the network keeps it: a ping waits for its pong, and a pong answers every ping before it. */
class Conn implements KeepaliveTarget {
  unansweredSince: number | undefined;
  constructor(
    readonly id: number,
    unansweredSince?: number,
  ) {
    this.unansweredSince = unansweredSince;
  }
  pinged(at: number): void {
    this.unansweredSince ??= at;
  }
  answered(): void {
    this.unansweredSince = undefined;
  }
}

const conns = (n: number, unansweredSince?: number): Conn[] => Array.from({ length: n }, (_, i) => new Conn(i + 1, unansweredSince));
const scheduled = <T extends KeepaliveTarget>(s: KeepaliveSchedule<T>, targets: T[]): T[] => {
  for (const t of targets) s.add(t);
  return targets;
};
/** A tick as the network runs it: the connections to ping are pinged at once. */
const tick = (s: KeepaliveSchedule<Conn>, now: number) => {
  const r = s.tick(now);
  for (const c of r.ping) c.pinged(now);
  return r;
};

it("pings every connection once per half keepalive window, a slot of them at each tick", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<Conn>(K, t0);
  expect(s.slots).toBe(KEEPALIVE_SLOTS);
  expect(s.tickMs).toBe(K / (2 * KEEPALIVE_SLOTS));
  expect(s.periodMs).toBe(K / 2);
  scheduled(s, conns(10_000));
  const pinged = new Map<number, number>();
  for (let i = 1; i <= s.slots; i++) {
    const { ping, drop } = tick(s, t0 + i * s.tickMs);
    expect(drop).toEqual([]);
    // no tick pings more than its share (the first schedule pinged all of them at once, the
    // second a fifth: 2,000 of 10,000 in one go)
    expect(ping.length).toBe(10_000 / s.slots);
    for (const c of ping) pinged.set(c.id, (pinged.get(c.id) ?? 0) + 1);
  }
  expect(pinged.size).toBe(10_000);
  expect(new Set(pinged.values())).toEqual(new Set([1]));
});

it("spreads the shipped window's pings over ticks of 50 ms, at most 2% of the connections each", () => {
  const s = new KeepaliveSchedule<Conn>(K, 0);
  expect(s.tickMs).toBe(50);
  scheduled(s, conns(10_000));
  let most = 0;
  for (let i = 1; i <= s.slots; i++) most = Math.max(most, tick(s, i * s.tickMs).ping.length);
  expect(most).toBeLessThanOrEqual(200);
});

it("a tick reads only the connections of its own slot", () => {
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, 0);
  let reads = 0;
  // every read of a connection's fields is counted
  const counted = Array.from({ length: 10_000 }, (_, i) => ({
    get id() {
      reads++;
      return i + 1;
    },
    get unansweredSince() {
      reads++;
      return 0;
    },
  }));
  scheduled(s, counted);
  reads = 0;
  const { ping } = s.tick(s.tickMs);
  expect(ping.length).toBe(10_000 / s.slots);
  // one unansweredSince each for the slot's members, nothing of the other slots' (a walk of every
  // connection read 10,000 ids)
  expect(reads).toBe(ping.length);
});

it("a short window keeps ticks of at least 10 ms and the ping period at K/2", () => {
  for (const k of [100, 300, 1500]) {
    const s = new KeepaliveSchedule<Conn>(k, 0);
    expect(s.tickMs).toBeGreaterThanOrEqual(10);
    expect(s.periodMs).toBeLessThanOrEqual(k / 2);
    expect(s.periodMs).toBeGreaterThan(k / 2 - s.slots);
    const all = scheduled(s, conns(100));
    const pinged = new Set<number>();
    for (let i = 1; i <= s.slots; i++) for (const c of tick(s, i * s.tickMs).ping) pinged.add(c.id);
    expect(pinged.size).toBe(all.length);
  }
});

it("never pings or judges a removed connection, and schedules each connection once", () => {
  const s = new KeepaliveSchedule<Conn>(K, 0);
  const all = scheduled(s, conns(500));
  s.add(all[0]!);
  expect(s.size).toBe(500);
  const gone = all.filter((c) => c.id % 2 === 0);
  for (const c of gone) s.remove(c);
  s.remove(gone[0]!);
  expect(s.size).toBe(250);
  const seen: number[] = [];
  for (let i = 1; i <= 3 * s.slots; i++) {
    const { ping, drop } = tick(s, i * s.tickMs);
    seen.push(...ping.map((c) => c.id), ...drop.map((c) => c.id));
  }
  expect(seen.filter((id) => id % 2 === 0)).toEqual([]);
});

it("drops a connection that leaves a ping unanswered for the keepalive window, and keeps one that answers", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<Conn>(K, t0);
  const silent = new Conn(1);
  const answering = new Conn(1 + s.slots); // the same slot
  scheduled(s, [silent, answering]);
  // both answer their first ping, then the silent one freezes
  let now = t0 + s.tickMs;
  tick(s, now);
  silent.answered();
  answering.answered();
  const lastPong = now;
  const dropped: number[] = [];
  while (!dropped.length && now < t0 + 3 * K) {
    now += s.tickMs;
    dropped.push(...tick(s, now).drop.map((c) => c.id));
    answering.answered();
  }
  expect(dropped).toEqual([1]);
  // K to 1.5K after its last pong: its next ping comes within a period, and has K to be answered
  expect(now - lastPong).toBeGreaterThanOrEqual(K);
  expect(now - lastPong).toBeLessThanOrEqual(K + s.periodMs);
  // a dropped connection leaves the schedule; the answering one stays
  expect(s.size).toBe(1);
  for (let i = 0; i < 2 * s.slots; i++) {
    now += s.tickMs;
    expect(tick(s, now).drop).toEqual([]);
    answering.answered();
  }
});

it("keeps a connection that answers every ping when every tick runs late, and still drops a silent one", () => {
  // each tick 75 ms late (125 ms apart instead of 50: too little to count as a stall, which is
  // K/5 = 1 s) stretches the ping period from 2.5 s to 6.25 s, longer than K. A connection that
  // answered each ping within 10 ms had then not ponged in the last K at its next ping, and was
  // dropped for it (the flaky close 428 of test/integration/baileys-signal-concurrency.test.ts).
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<Conn>(K, t0);
  const gap = 125;
  expect(gap).toBeLessThan(K / 5);
  const answering = new Conn(1);
  const silent = new Conn(2);
  scheduled(s, [answering, silent]);
  const dropped: Array<{ id: number; at: number }> = [];
  const pingedSilentAt: number[] = [];
  let pings = 0;
  for (let now = t0 + gap; now <= t0 + 5 * s.slots * gap; now += gap) {
    const { ping, drop } = tick(s, now);
    dropped.push(...drop.map((c) => ({ id: c.id, at: now })));
    if (ping.includes(silent)) pingedSilentAt.push(now);
    if (ping.includes(answering)) {
      pings++;
      answering.answered(); // its pong comes within 10 ms, before the next tick
    }
  }
  expect(pings).toBeGreaterThanOrEqual(4);
  // the silent one goes at its first judgement at least K after its first ping
  expect(dropped).toEqual([{ id: 2, at: pingedSilentAt[0]! + s.slots * gap }]);
});

it("judges nobody on a tick that ran late (pongs may sit unread), only pings", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<Conn>(K, t0);
  const silent = scheduled(s, conns(s.slots, t0 - 2 * K));
  // late by more than K/5: the process was stalled
  const lateAt = t0 + K / 5 + s.tickMs;
  const late = tick(s, lateAt);
  expect(late.drop).toEqual([]);
  expect(late.ping.length).toBe(1);
  // the next, punctual tick judges its slot
  expect(tick(s, lateAt + s.tickMs).drop.length).toBe(1);
  expect(silent.length).toBe(s.slots);
});

it("a tick a few ticks late (less than K/5) still judges: finer ticks skip no more judgements than before", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<Conn>(K, t0);
  scheduled(s, conns(s.slots, t0 - 2 * K));
  expect(tick(s, t0 + 3 * s.tickMs).drop.length).toBe(1);
});
