// Groups over REST on the simulator engine (issue 19): (1) creating a group with 256 participants,
// then adding 256 more in one call, and (2) listing 1,000 groups (every page of 100, through
// cursors, and the first page alone), p50/p99 against GET .../sessions/:s on the same node in the
// same run.
import { request } from "../test/helpers/http";
import { startSimNetwork } from "../lib/simulator/network";
import { figure, intArg, type BenchContext } from "./harness";
import { linkSession, startEmbeddedNode, timed } from "./support/embedded";

const KEY = "bench-groups-admin-key-0123456789";
const ME = "15550008888";

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const rounds = intArg(args, "rounds", 20);
  const calls = intArg(args, "calls", 100);
  const groupCount = intArg(args, "groups", 1000);
  const net = await startSimNetwork();
  const { proc, api } = await startEmbeddedNode(net.url, KEY, { name: "bench-groups" });
  try {
    const S = "/api/v1/workspaces/acme/sessions/main";
    const call = async (method: string, p: string, body?: unknown, expected = 200) => {
      const r = await request(api, method, `${S}${p}`, { key: KEY, body });
      if (r.status !== expected) throw new Error(`${method} ${p}: ${r.status} ${r.body.toString().slice(0, 200)}`);
      return r;
    };
    await linkSession(api, KEY, net.url, "acme", "main", ME);

    const people = (round: number, from: number) => Array.from({ length: 256 }, (_, i) => String(4916000000000 + round * 1000 + from + i));
    for (let i = 0; i < 20; i++) await call("GET", ""); // warm up
    const base = await timed(calls, () => call("GET", ""));

    // (1) a group of 256, then 256 more
    const created: string[] = [];
    const create = await timed(rounds, async (r) => created.push((await call("POST", "/groups", { subject: `Bench ${r}`, participants: people(r, 0) }, 201)).json.id));
    const add = await timed(rounds, async (r) => {
      const res = await call("POST", `/groups/${created[r]}/participants`, { participants: people(r, 256) });
      if (res.json.participants.filter((p: any) => p.status === "added").length !== 256) throw new Error("not every participant was added");
    });
    const baseline = (v: number) => ({ name: "GET /sessions/:s, same node and run", value: v });
    emit(figure("groups.create-256.p50", "ms", create.p50, baseline(base.p50), { rounds }));
    emit(figure("groups.create-256.p99", "ms", create.p99, baseline(base.p99), { rounds }));
    emit(figure("groups.add-256.p50", "ms", add.p50, baseline(base.p50), { rounds }));
    emit(figure("groups.add-256.p99", "ms", add.p99, baseline(base.p99), { rounds }));

    // (2) 1,000 groups the account is in, made by contacts straight in the network's model
    for (let g = created.length; g < groupCount; g++) net.network.groups.create(String(4917000000000 + g), `Group ${g}`, [ME]);
    const listAll = async () => {
      let cursor: string | null = null;
      let n = 0;
      do {
        const r: any = await call("GET", `/groups?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        n += r.json.items.length;
        cursor = r.json.nextCursor;
      } while (cursor);
      if (n !== groupCount) throw new Error(`listed ${n} groups, expected ${groupCount}`);
    };
    const listRounds = Math.max(5, Math.floor(calls / 5));
    const all = await timed(listRounds, listAll);
    const page = await timed(calls, () => call("GET", "/groups?limit=100"));
    emit(figure("groups.list-1000.p50", "ms", all.p50, baseline(base.p50), { groups: groupCount, pages: Math.ceil(groupCount / 100), rounds: listRounds }));
    emit(figure("groups.list-1000.p99", "ms", all.p99, baseline(base.p99), { groups: groupCount, pages: Math.ceil(groupCount / 100), rounds: listRounds }));
    emit(figure("groups.list-first-page.p50", "ms", page.p50, baseline(base.p50), { groups: groupCount, limit: 100 }));
    emit(figure("groups.list-first-page.p99", "ms", page.p99, baseline(base.p99), { groups: groupCount, limit: 100 }));
  } finally {
    await proc.kill("SIGKILL");
    await net.close();
  }
}
