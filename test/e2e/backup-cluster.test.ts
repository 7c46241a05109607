// The backup role as its own node of a real cluster (NATS, Redis, two session nodes, a gateway,
// the simulated network, all child processes; snapshots on an S3 API server): it reads the shared
// sessions folder, and a restore reaches the owners of the touched sessions through the Workspace
// routing, so a workspace destroyed on disk comes back WORKING with no new link and no conflict,
// while a workspace owned by the other node never notices.
import { promises as fs } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { TestCluster } from "../helpers/cluster";
import { waitFor } from "../helpers/processes";
import { startTestS3, type TestS3 } from "../helpers/s3";

let c: TestCluster;
let s3: TestS3;
let client: ServiceBroker;
const events: Array<{ name: string; workspaceId: string; sessionId: string; status?: string }> = [];

beforeAll(async () => {
  s3 = await startTestS3();
  c = await new TestCluster().start(["n1", "n2"]);
  await c.startRole("bk", "backup", {
    BACKUP_TARGET: `s3://${s3.bucket}/cluster`,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
    BACKUP_CRON: "0 0 1 1 *", // snapshots only when the test asks
  });
  client = new ServiceBroker({ namespace: "wafleet", nodeID: "backup-test-client", transporter: { type: "NATS", options: { url: c.nats.url } }, logger: false });
  client.createService({
    name: "recorder",
    events: {
      "wa.session.*"(ctx: any) {
        events.push({ name: ctx.eventName, ...ctx.params });
      },
    },
  });
  await client.start();
  await client.waitForServices(["backup"], 20000);
}, 90_000);

afterAll(async () => {
  await client?.stop();
  await c?.stop();
  await s3?.destroy();
});

const owner = async (w: string, s: string) => (await c.session(w, s)).node as string;

it("restores a destroyed workspace from a backup node, touching no other workspace", async () => {
  // two workspaces, on different nodes if placement allows (it spreads by hashing)
  const names = ["acme", "beta", "gamma", "delta"];
  for (const [i, w] of names.entries()) await c.createLinked(w, "s1", `1555300000${i}`);
  await waitFor("all WORKING", async () => (await Promise.all(names.map((w) => c.session(w, "s1")))).every((v) => v.status === "WORKING"), 30000, 100);
  const target = names[0]!;
  const targetNode = await owner(target, "s1");
  const others = names.slice(1);

  const snap: any = await client.call("backup.now", {}, { timeout: 60_000 });
  expect(snap).toMatchObject({ verified: true, totals: { workspaces: 4, sessions: 4 } });

  // the event path to this test is live: a probe session's restart reaches the recorder
  // (the session nodes learn of this test's broker a moment after it starts: until then their
  // broadcasts skip it, so the probe restarts until one arrives)
  await waitFor("the probe's WORKING event", async () => {
    if (events.some((e) => e.workspaceId === others[0] && e.status === "WORKING")) return true;
    await c.retrying(() => c.call("POST", `/workspaces/${others[0]}/sessions/s1/restart`), [200]);
    await new Promise((r) => setTimeout(r, 1500));
    return events.some((e) => e.workspaceId === others[0] && e.status === "WORKING");
  }, 40000, 50);
  await waitFor(`${others[0]}/s1 WORKING`, async () => (await c.session(others[0]!, "s1")).status === "WORKING", 20000, 100);

  await fs.rm(path.join(c.sessionsDir, `workspace_${target}`), { recursive: true });
  const before = await c.simStats();
  const mark = events.length;
  const report: any = await client.call("backup.restore", { snapshot: snap.snapshot, workspaceId: target }, { timeout: 60_000 });
  expect(report.workspaces).toEqual([{ workspaceId: target, sessions: [{ sessionId: "s1", outcome: "restarted" }] }]);
  await waitFor(`${target}/s1 WORKING again`, async () => (await c.session(target, "s1")).status === "WORKING", 30000, 100);
  expect(await owner(target, "s1")).toBe(targetNode);
  await expect(fs.readFile(path.join(c.sessionsDir, `workspace_${target}/session_s1/auth/creds.json`), "utf8")).resolves.toContain("15553000000");

  const after = await c.simStats();
  expect(after.conflicts).toBe(0);
  expect(before.conflicts).toBe(0);
  for (const w of others) expect((await c.session(w, "s1")).status).toBe("WORKING");
  // only the restored session changed state (stop, start, ready), and never through a QR
  await waitFor("the restored session's WORKING event", () => events.slice(mark).some((e) => e.workspaceId === target && e.status === "WORKING"), 20000, 50);
  const since = events.slice(mark);
  expect(since.filter((e) => e.workspaceId !== target)).toEqual([]);
  expect(since.filter((e) => e.name === "wa.session.status").map((e) => e.status)).toEqual(["STOPPED", "STARTING", "WORKING"]);
  expect(since.filter((e) => e.name === "wa.session.qr")).toEqual([]);
}, 120_000);
