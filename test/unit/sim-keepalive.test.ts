// The simulated network's keepalive schedule (lib/simulator/keepalive.ts): each connection is
// pinged once per K/2, the connections spread over the ticks, and one silent for K is dropped.
import { KEEPALIVE_SLOTS, KeepaliveSchedule, type KeepaliveTarget } from "../../lib/simulator/keepalive";

const K = 5000;
const conns = (n: number, lastPongAt: number): Array<{ id: number; lastPongAt: number }> => Array.from({ length: n }, (_, i) => ({ id: i + 1, lastPongAt }));

it("pings every connection once per half keepalive window, a slot of them at each tick", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  expect(s.tickMs).toBe(K / 10);
  expect(s.periodMs).toBe(K / 2);
  const all = conns(1000, t0);
  const pinged = new Map<number, number>();
  for (let i = 1; i <= KEEPALIVE_SLOTS; i++) {
    const { ping, drop } = s.tick(t0 + i * s.tickMs, all);
    expect(drop).toEqual([]);
    // no tick pings more than its share (the old check pinged all 1,000 at once)
    expect(ping.length).toBe(1000 / KEEPALIVE_SLOTS);
    for (const c of ping) pinged.set(c.id, (pinged.get(c.id) ?? 0) + 1);
  }
  expect(pinged.size).toBe(1000);
  expect(new Set(pinged.values())).toEqual(new Set([1]));
});

it("drops a connection silent for the keepalive window at its slot's tick, and keeps one that answered", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  const silent = { id: 1, lastPongAt: t0 };
  const answering = { id: 6, lastPongAt: t0 }; // the same slot
  const dropped: number[] = [];
  let now = t0;
  while (!dropped.length && now < t0 + 3 * K) {
    now += s.tickMs;
    answering.lastPongAt = now - 100;
    dropped.push(...s.tick(now, [silent, answering]).drop.map((c) => c.id));
  }
  expect(dropped).toEqual([1]);
  // not before K has passed, and within K + one period
  expect(now - t0).toBeGreaterThan(K);
  expect(now - t0).toBeLessThanOrEqual(K + s.periodMs);
});

it("judges nobody on a tick that ran late (pongs may sit unread), only pings", () => {
  const t0 = 1_000_000;
  const s = new KeepaliveSchedule<KeepaliveTarget>(K, t0);
  const silent = conns(KEEPALIVE_SLOTS, t0 - 2 * K);
  const late = s.tick(t0 + 3 * s.tickMs, silent);
  expect(late.drop).toEqual([]);
  expect(late.ping.length).toBe(1);
  // the next, punctual tick judges its slot
  expect(s.tick(t0 + 4 * s.tickMs, silent).drop.length).toBe(1);
});
