// The scale run's cost meter (issue 23): Redis INFO commandstats parsed, and a phase's costs the
// differences of two snapshots, without the meter's own INFO call.
import { CostMeter, parseCommandStats, type CostSnapshot } from "../../bench/cost-meter";

const INFO = ["# Commandstats", "cmdstat_evalsha:calls=120,usec=900,usec_per_call=7.50,rejected_calls=0,failed_calls=0", "cmdstat_HGET:calls=40,usec=80,usec_per_call=2.00", "cmdstat_info:calls=3,usec=300,usec_per_call=100.00", ""].join("\r\n");

function snap(at: number, redis: string, nats: number[], js: number[], cpu: Record<string, number>, ops: number[]): CostSnapshot {
  return {
    at,
    redis: parseCommandStats(redis),
    nats: { inMsgs: nats[0]!, outMsgs: nats[1]!, inBytes: nats[2]!, outBytes: nats[3]! },
    js: { messages: js[0]!, bytes: js[1]!, api: 0 },
    cpu: new Map(Object.entries(cpu)),
    rss: new Map(),
    ops: { requests: ops[0]!, sends: ops[1]!, incoming: ops[2]! },
  };
}

it("parses INFO commandstats, command names in lower case", () => {
  expect(parseCommandStats(INFO)).toEqual(
    new Map([
      ["evalsha", { calls: 120, usec: 900 }],
      ["hget", { calls: 40, usec: 80 }],
      ["info", { calls: 3, usec: 300 }],
    ]),
  );
});

it("a phase is the difference of its two snapshots; the meter's own INFO is not counted", () => {
  const a = snap(1000, INFO, [10, 20, 1000, 2000], [5, 500], { n1: 1.5, gateway: 2 }, [100, 40, 20]);
  const later = INFO.replace("calls=120,usec=900", "calls=170,usec=1400").replace("calls=3,usec=300", "calls=4,usec=400");
  const b = snap(11_000, later + "cmdstat_publish:calls=7,usec=14\r\n", [60, 90, 6000, 9000], [25, 7700], { n1: 3.5, gateway: 2.5, n9: 0.4 }, [300, 140, 70]);
  const p = CostMeter.phase("steady", a, b);
  expect(p).toEqual({
    phase: "steady",
    seconds: 10,
    redisCommands: 57,
    redisSeconds: (500 + 14) / 1e6,
    redisByCommand: { evalsha: 50, publish: 7 },
    natsInMsgs: 50,
    natsOutMsgs: 70,
    natsInBytes: 5000,
    natsOutBytes: 7000,
    jsMessages: 20,
    jsBytes: 7200,
    cpu: { n1: 2, gateway: 0.5, n9: 0.4 },
    requests: 200,
    sends: 100,
    incoming: 50,
  });
});
