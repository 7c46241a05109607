// The scale run's send breakdown (issue 23, third round): the stamps a timed answer carries, the
// hops the harness subtracts from them, and the event-loop delay lines every process writes.
import type { IncomingMessage } from "node:http";
import { addStamps, parseTimingHeader, stamp, startTiming, timed, timingHeaderOf } from "../../lib/api/timing";
import { hopFigures, hopsOf, HOPS, loopDelayFigures, loopDelayLines } from "../../bench/scale";

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("request timing (X-Wafleet-Timing)", () => {
  it("stamps only a request that asks, and shows the stamps to an admin only", () => {
    const plain = req({});
    startTiming(plain);
    stamp(plain, "g1");
    expect(timed(plain)).toBe(false);
    expect(timingHeaderOf(plain, true)).toBeUndefined();

    const asking = req({ "x-wafleet-timing": "1" });
    startTiming(asking);
    stamp(asking, "g1");
    addStamps(asking, { n0: 5, n1: 7, "bad key": 1, n2: "x", __proto__x: 3 });
    expect(timed(asking)).toBe(true);
    expect(timingHeaderOf(asking, false)).toBeUndefined();
    const parsed = parseTimingHeader(timingHeaderOf(asking, true));
    expect(Object.keys(parsed).sort()).toEqual(["g0", "g1", "n0", "n1"]);
    expect(parsed.g1).toBeGreaterThanOrEqual(parsed.g0!);
    expect(parsed.n0).toBe(5);
  });

  it("ignores what is not an object of numbers", () => {
    const r = req({ "x-wafleet-timing": "1" });
    startTiming(r);
    addStamps(r, true);
    addStamps(r, null);
    addStamps(r, "n0=1");
    expect(Object.keys(parseTimingHeader(timingHeaderOf(r, true)))).toEqual(["g0"]);
  });
});

describe("send hops", () => {
  const header = "g0=110;g1=111;g2=120;n0=130;n1=131;n2=150;g3=160;g4=170";

  it("subtracts consecutive stamps, the harness's at both ends, and keeps the retries apart", () => {
    const h = hopsOf("steady", 0, 100, 200, header)!;
    expect(h.total).toBe(200);
    expect(h.retries).toBe(100);
    expect(h.hops).toEqual([10, 1, 9, 10, 1, 19, 10, 10, 30]);
    expect(h.hops.reduce((a, b) => a + b, 0)).toBe(200 - 100);
    expect(HOPS.length).toBe(h.hops.length);
  });

  it("gives nothing when a stamp is missing (an answer without the owner's stamps)", () => {
    expect(hopsOf("steady", 0, 100, 200, "g0=110;g1=111;g2=120;g3=160;g4=170")).toBeUndefined();
    expect(hopsOf("steady", 0, 100, 200, undefined)).toBeUndefined();
  });

  it("reports each hop beside the sends, the slowest 1% by hop, and the sends per phase", () => {
    // 99 fast sends and one whose owner was slow to hear from the network
    const sends = Array.from({ length: 100 }, (_, i) => hopsOf(i < 60 ? "steady" : "join", 0, 0, i === 99 ? 100_000 : 1000, i === 99 ? "g0=100;g1=200;g2=300;n0=400;n1=500;n2=99000;g3=99100;g4=99200" : "g0=100;g1=200;g2=300;n0=400;n1=500;n2=600;g3=700;g4=800")!);
    const f = Object.fromEntries(hopFigures(sends).map((x) => [x.figure, x]));
    expect(f["scale.send.tail.engine.network.ack"]!.value).toBe(98.5);
    expect(f["scale.send.tail.engine.network.ack"]!.baseline!.value).toBe(100);
    expect(f["scale.send.tail.engine.network.ack"]!.byPhase).toEqual({ join: 1 });
    expect(f["scale.send.hop.engine.network.ack.p50"]!.value).toBe(0.1);
    expect(f["scale.send.phase.steady.p50"]!.value).toBe(1);
    expect(f["scale.send.phase.join.p99"]!.n).toBe(40);
  });
});

describe("event-loop delay lines", () => {
  it("reads a process's lines, skipping a cut one, and averages each process's windows of a phase", () => {
    const out = [
      "[12:00:00.000Z] INFO something",
      '[loop-delay] {"at":1000,"n":500,"p50":10.5,"p99":20,"max":30,"mean":11}',
      '[loop-delay] {"at":2000,"n":500,"p50":10.5,"p99":40,"max":90,"mean":11}',
      '[loop-delay] {"at":3000,"n":5',
      '[loop-delay] {"at":9000000,"n":500,"p50":10.5,"p99":400,"max":900,"mean":11}',
    ].join("\n");
    expect(loopDelayLines(out).map((l) => l.p99)).toEqual([20, 40, 400]);
    const phases = [{ name: "steady", from: 500, to: 2500, harnessLoop: { p50: 10, p99: 15, max: 20 } }];
    const f = Object.fromEntries(loopDelayFigures(phases, [["gateway", out]]).map((x) => [x.figure, x]));
    expect(f["scale.loop.steady.gateway.p99"]!.value).toBe(30);
    expect(f["scale.loop.steady.gateway.p99"]!.worstP99).toBe(40);
    expect(f["scale.loop.steady.gateway.p99"]!.max).toBe(90);
    expect(f["scale.loop.steady.gateway.p99"]!.baseline!.value).toBe(15);
  });
});
