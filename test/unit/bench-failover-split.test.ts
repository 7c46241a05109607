// The scale run splits a failover into the coordinator's reassignment and the restore after it,
// dating the reassignment by the coordinator's own log lines (bench/scale.ts, reassignedAt).
import { adoptedAt, reassignedAt } from "../../bench/scale";

const killed = Date.UTC(2026, 11, 1, 3, 0, 0);
const line = (hms: string, victim: string, k: number) => `[${hms}Z] WARN  n2/SESSIONS: coordinator: failover of ${victim}: ${k} workspaces reassigned\n`;

it("dates the reassignment by the line that covers every workspace of the dead node, across ticks and coordinators", () => {
  const first = `[03:00:12.400Z] INFO  n2/SESSIONS: something else\n${line("03:00:13.250", "n4", 200)}`;
  const successor = line("03:00:14.500", "n4", 57);
  expect(reassignedAt([first, ""], "n4", 257, killed)).toBeUndefined();
  expect(reassignedAt([first, successor], "n4", 257, killed)).toBe(killed + 14_500);
  expect(reassignedAt([line("03:00:13.250", "n4", 257)], "n4", 257, killed)).toBe(killed + 13_250);
});

it("ignores another node's failover, even one whose name starts with the dead node's", () => {
  expect(reassignedAt([line("03:00:13.000", "n10", 9) + line("03:00:13.100", "n3", 9)], "n1", 9, killed)).toBeUndefined();
});

it("reads a line just after midnight as the next day, and a line without a time as seen now", () => {
  const late = Date.UTC(2026, 11, 1, 23, 59, 58);
  expect(reassignedAt([line("00:00:11.000", "n4", 3)], "n4", 3, late)).toBe(late + 13_000);
  expect(reassignedAt(["coordinator: failover of n4: 3 workspaces reassigned\n"], "n4", 3, killed, killed + 20_000)).toBe(killed + 20_000);
});

it("dates the adoption by the last of the victim's workspaces a new owner loaded", () => {
  const loaded = (hms: string, w: string) => `[${hms}Z] INFO  n1/SESSIONS: workspace ${w}: 5 sessions loaded, 5 resuming\n`;
  const n1 = loaded("03:00:13.300", "w1") + loaded("03:00:13.900", "other");
  const n2 = loaded("03:00:14.100", "w2");
  expect(adoptedAt([n1], ["w1", "w2"], killed)).toBeUndefined();
  expect(adoptedAt([n1, n2], ["w1", "w2"], killed)).toBe(killed + 14_100);
});
