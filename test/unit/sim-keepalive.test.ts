// The simulated network's keepalive schedule (lib/simulator/keepalive.ts): each connection is
// pinged once per K/2, the connections spread over the ticks, a tick touching only its own slot,
// and one silent for K is dropped.
import { KEEPALIVE_SLOTS, KeepaliveSchedule, type KeepaliveTarget } from "../../lib/simulator/keepalive";

const K = 5000;
const conns = (n: number, lastPongAt: number): Array<{ id: number; lastPongAt: number }> => Array.from({ length: n }, (_, i) => ({ id: i + 1, lastPongAt }));
const scheduled = <T extends KeepaliveTarget>(s: KeepaliveSchedule<T>, targets: T[]): T[] => {
  for (const t of targets) s.add(t);
  return targets;
};

it("pings every connection once per half keepalive window, a slot of them at each tick", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  expect(s.slots).toBe(KEEPALIVE_SLOTS);
  expect(s.tickMs).toBe(K / (2 * KEEPALIVE_SLOTS));
  expect(s.periodMs).toBe(K / 2);
  scheduled(s, conns(10_000, t0));
  const pinged = new Map<number, number>();
  for (let i = 1; i <= s.slots; i++) {
    const { ping, drop } = s.tick(t0 + i * s.tickMs);
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
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, 0);
  expect(s.tickMs).toBe(50);
  scheduled(s, conns(10_000, 0));
  let most = 0;
  for (let i = 1; i <= s.slots; i++) most = Math.max(most, s.tick(i * s.tickMs).ping.length);
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
    get lastPongAt() {
      reads++;
      return 0;
    },
  }));
  scheduled(s, counted);
  reads = 0;
  const { ping } = s.tick(s.tickMs);
  expect(ping.length).toBe(10_000 / s.slots);
  // one lastPongAt each for the slot's members, nothing of the other slots' (a walk of every
  // connection read 10,000 ids)
  expect(reads).toBe(ping.length);
});

it("a short window keeps ticks of at least 10 ms and the ping period at K/2", () => {
  for (const k of [100, 300, 1500]) {
    const s = new KeepaliveSchedule<KeepaliveTarget>(k, 0);
    expect(s.tickMs).toBeGreaterThanOrEqual(10);
    expect(s.periodMs).toBeLessThanOrEqual(k / 2);
    expect(s.periodMs).toBeGreaterThan(k / 2 - s.slots);
    const all = scheduled(s, conns(100, 0));
    const pinged = new Set<number>();
    for (let i = 1; i <= s.slots; i++) for (const c of s.tick(i * s.tickMs).ping) pinged.add(c.id);
    expect(pinged.size).toBe(all.length);
  }
});

it("never pings or judges a removed connection, and schedules each connection once", () => {
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, 0);
  const all = scheduled(s, conns(500, 0));
  s.add(all[0]!);
  expect(s.size).toBe(500);
  const gone = all.filter((c) => c.id % 2 === 0);
  for (const c of gone) s.remove(c);
  s.remove(gone[0]!);
  expect(s.size).toBe(250);
  const seen: number[] = [];
  for (let i = 1; i <= 3 * s.slots; i++) {
    const { ping, drop } = s.tick(i * s.tickMs);
    seen.push(...ping.map((c) => c.id), ...drop.map((c) => c.id));
  }
  expect(seen.filter((id) => id % 2 === 0)).toEqual([]);
});

it("drops a connection silent for the keepalive window at its slot's tick, and keeps one that answered", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  const silent = { id: 1, lastPongAt: t0 };
  const answering = { id: 1 + s.slots, lastPongAt: t0 }; // the same slot
  scheduled(s, [silent, answering]);
  const dropped: number[] = [];
  let now = t0;
  while (!dropped.length && now < t0 + 3 * K) {
    now += s.tickMs;
    answering.lastPongAt = now - 100;
    dropped.push(...s.tick(now).drop.map((c) => c.id));
  }
  expect(dropped).toEqual([1]);
  // not before K has passed, and within K + one period
  expect(now - t0).toBeGreaterThan(K);
  expect(now - t0).toBeLessThanOrEqual(K + s.periodMs);
  // a dropped connection leaves the schedule; the answering one stays
  expect(s.size).toBe(1);
  for (let i = 0; i < 2 * s.slots; i++) {
    now += s.tickMs;
    answering.lastPongAt = now - 100;
    expect(s.tick(now).drop).toEqual([]);
  }
});

it("judges nobody on a tick that ran late (pongs may sit unread), only pings", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  const silent = scheduled(s, conns(s.slots, t0 - 2 * K));
  // late by more than K/5: the process was stalled
  const lateAt = t0 + K / 5 + s.tickMs;
  const late = s.tick(lateAt);
  expect(late.drop).toEqual([]);
  expect(late.ping.length).toBe(1);
  // the next, punctual tick judges its slot
  expect(s.tick(lateAt + s.tickMs).drop.length).toBe(1);
  expect(silent.length).toBe(s.slots);
});

it("a tick a few ticks late (less than K/5) still judges: finer ticks skip no more judgements than before", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  scheduled(s, conns(s.slots, t0 - 2 * K));
  expect(s.tick(t0 + 3 * s.tickMs).drop.length).toBe(1);
});
