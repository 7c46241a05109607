// Backups end to end, in one process (sessions + placement + backup services on one broker, the
// simulator engine against the simulated network, snapshots on a real S3 API server): a workspace
// whose folder is destroyed comes back WORKING from a snapshot with no new link and no conflict,
// other workspaces never notice; an S3 outage fails one run and not the next; a full disaster
// recovery onto an empty node; a corrupted archive is refused before anything is touched. One
// session runs the real Baileys client (engine "baileys" at create): its auth/baileys store is in
// the snapshot and it comes back without a QR too.
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ServiceBroker } from "moleculer";
import { buildBrokerOptions } from "../../moleculer.config";
import { loadConfig } from "../../lib/config";
import { createEngineSet } from "../../lib/engines";
import { createClusterRuntime, type ClusterRuntime } from "../../lib/placement/runtime";
import { archiveKey } from "../../lib/backup/manifest";
import { BACKUP_METRIC } from "../../lib/backup/metrics";
import backupService from "../../services/backup.service";
import placementService from "../../services/placement.service";
import sessionsService from "../../services/sessions.service";
import { startTestS3, type TestS3 } from "../helpers/s3";
import { startTestSim, type TestSim } from "../helpers/sim";
import { tempDir, waitFor } from "../helpers/processes";

interface Recorded {
  name: string;
  [k: string]: any;
}

interface Node {
  broker: ServiceBroker;
  cluster: ClusterRuntime;
  events: Recorded[];
}

let s3: TestS3;
let sim: TestSim;
let root: string;
let sessionsDir: string;
let node: Node | undefined;

const PHONES = { a1: "15550001001", a2: "15550001002", a3: "15550001003", b1: "15550002001" };

async function startNode(): Promise<Node> {
  const config = loadConfig({
    DATA_DIR: root,
    SERVICES: "sessions,backup",
    NODE_ID: "backup-e2e",
    WA_SIM_URL: sim.url,
    BACKUP_TARGET: `s3://${s3.bucket}/e2e`,
    S3_ENDPOINT: s3.endpoint,
    LAUNCH_STAGGER_MS: "0",
    LOG_LEVEL: "warn",
    WA_ENGINES: "simulator,baileys",
  });
  const cluster = createClusterRuntime(config, () => undefined);
  await cluster.view.start();
  // metrics on for this broker only, to read wafleet_backup_*
  const broker = new ServiceBroker({ ...buildBrokerOptions(config), logger: false, metrics: { enabled: true, reporter: [] } });
  const engines = createEngineSet(config, sim.url);
  broker.createService(sessionsService({ config, engineFactory: engines.default, engines: engines.engines, cluster }));
  broker.createService(placementService({ config, cluster }));
  broker.createService(backupService({ config, schedule: false }));
  const events: Recorded[] = [];
  broker.createService({
    name: "recorder",
    events: {
      "wa.**"(ctx: any) {
        events.push({ name: ctx.eventName, ...ctx.params });
      },
    },
  });
  await broker.start();
  return { broker, cluster, events };
}

async function stopNode(): Promise<void> {
  if (!node) return;
  await node.broker.stop();
  node.cluster.view.stop();
  await node.cluster.directory.close();
  node = undefined;
}

const call = (action: string, params: Record<string, unknown> = {}): Promise<any> => node!.broker.call(action, params, { timeout: 60_000 });
const view = (w: string, s: string) => call("sessions.get", { workspaceId: w, sessionId: s });
const working = (w: string, s: string, timeoutMs = 20_000) => waitFor(`${w}/${s} WORKING`, async () => ((await view(w, s)).status === "WORKING" ? true : undefined), timeoutMs, 50);

async function link(w: string, s: string, phone: string, engine?: string): Promise<void> {
  await call("sessions.create", { workspaceId: w, sessionId: s, ...(engine ? { engine } : {}) });
  const { qr } = await waitFor(`${w}/${s} QR`, () => call("sessions.qr", { workspaceId: w, sessionId: s }).catch(() => undefined));
  const res = await sim.post("/sim/link", { qr, phone });
  expect(res.status).toBe(200);
  await working(w, s);
}

async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[path.relative(dir, p)] = createHash("sha256").update(await fs.readFile(p)).digest("hex");
    }
  };
  await walk(dir);
  return out;
}

const stats = async () => (await sim.get("/sim/stats")).json;
const metric = (name: string) => (node!.broker.metrics.getMetric(name) as any)?.get()?.value;
const eventsSince = (mark: number, pred: (e: Recorded) => boolean) => node!.events.slice(mark).filter(pred);

beforeAll(async () => {
  s3 = await startTestS3();
  s3.exportCredentials(); // the store finds its keys through the standard AWS chain (environment)
  // the network's default keepalive (5 s), as a deployment's: the network and the node share this
  // test's event loop with the backups' archiving, and "sessions never notice" must not hinge on
  // a pong read within 1.5 s on a loaded machine (no test here needs a dead connection noticed fast:
  // every node stop is graceful and closes its connections)
  sim = await startTestSim();
  root = await tempDir("backup-e2e");
  sessionsDir = path.join(root, "sessions");
  node = await startNode();
}, 30_000);

afterAll(async () => {
  await stopNode();
  await sim?.close();
  await s3?.destroy();
  await fs.rm(root, { recursive: true, force: true });
});

describe("backups of live sessions", () => {
  let snapshot: string;

  it("snapshots linked sessions of two workspaces and verifies the snapshot", async () => {
    await link("acme", "a1", PHONES.a1);
    await link("acme", "a2", PHONES.a2);
    await call("sessions.stop", { workspaceId: "acme", sessionId: "a2" });
    await link("acme", "a3", PHONES.a3, "baileys");
    // the baileys session's own store of chats and messages (auth/store/) goes into the snapshot too
    await call("sessions.sendMessage", { workspaceId: "acme", sessionId: "a3", to: "4915100000003", text: "before the backup" });
    await waitFor("the chat on disk", async () => ((await fs.readFile(path.join(sessionsDir, "workspace_acme/session_a3/auth/store/chats.json"), "utf8").catch(() => "")).includes("before the backup") ? true : undefined));
    await link("beta", "b1", PHONES.b1);
    const r = await call("backup.now");
    expect(r).toMatchObject({ verified: true, totals: { workspaces: 2, sessions: 4 } });
    snapshot = r.snapshot;
    expect(node!.events.find((e) => e.name === "wa.backup.succeeded")).toMatchObject({ snapshot, node: "backup-e2e" });
    expect(node!.events.find((e) => e.name === "wa.backup.verified")).toMatchObject({ snapshot, ok: true });
    expect(metric(BACKUP_METRIC.lastSuccess)).toBeGreaterThan(0);
    expect(metric(BACKUP_METRIC.verifyOk)).toBe(1);
    const list = await call("backup.list");
    expect(list[0]).toMatchObject({ id: snapshot, complete: true, verified: true });
    const manifest = await call("backup.get", { snapshot });
    const acme = manifest.archives.find((a: any) => a.workspaceId === "acme");
    expect(acme.sessions.map((x: any) => [x.sessionId, x.engine])).toEqual([
      ["a1", "simulator"],
      ["a2", "simulator"],
      ["a3", "baileys"],
    ]);
  });

  it("reports an S3 outage as a failed run, succeeds on the next, and sessions never notice", async () => {
    const mark = node!.events.length;
    await s3.stop();
    await expect(call("backup.now")).rejects.toMatchObject({ type: "BACKUP_FAILED" });
    expect(eventsSince(mark, (e) => e.name === "wa.backup.failed")).toHaveLength(1);
    expect(metric(BACKUP_METRIC.failures)).toBe(1);
    expect((await call("backup.status")).lastFailure).toMatchObject({ error: expect.any(String) });
    await s3.start();
    const r = await call("backup.now");
    expect(r.verified).toBe(true);
    snapshot = r.snapshot;
    expect(eventsSince(mark, (e) => e.name.startsWith("wa.session."))).toEqual([]);
    for (const [w, s] of [["acme", "a1"], ["acme", "a3"], ["beta", "b1"]]) expect((await view(w, s)).status).toBe("WORKING");
  });

  it("brings a destroyed workspace back WORKING without a new link, and leaves the other untouched", async () => {
    await fs.rm(path.join(sessionsDir, "workspace_acme"), { recursive: true });
    const betaBefore = await treeDigest(path.join(sessionsDir, "workspace_beta"));
    const mark = node!.events.length;

    const report = await call("backup.restore", { snapshot, workspaceId: "acme" });
    expect(report.workspaces).toEqual([
      {
        workspaceId: "acme",
        sessions: [
          { sessionId: "a1", outcome: "restarted" },
          { sessionId: "a2", outcome: "restored-stopped" },
          { sessionId: "a3", outcome: "restarted" },
        ],
      },
    ]);
    await working("acme", "a1");
    await working("acme", "a3");
    expect((await view("acme", "a3")).me).toMatchObject({ phone: PHONES.a3 });
    expect((await view("acme", "a3")).engine).toBe("baileys");
    const a3 = eventsSince(mark, (e) => e.workspaceId === "acme" && e.sessionId === "a3");
    expect(a3.filter((e) => e.name === "wa.session.qr")).toEqual([]);
    const restored = await fs.readdir(path.join(sessionsDir, "workspace_acme/session_a3/auth/baileys"));
    expect(restored).toEqual(expect.arrayContaining(["creds.json", "keys-pre-key.json"]));
    // its chat history came back with it
    const history = await call("sessions.listChatMessages", { workspaceId: "acme", sessionId: "a3", chatId: "4915100000003@c.us", limit: 5 });
    expect(history.items.map((m: { body: string }) => m.body)).toEqual(["before the backup"]);
    // it sends on the restored Signal state
    const sent = await call("sessions.sendMessage", { workspaceId: "acme", sessionId: "a3", to: "4915100000003", text: "after the restore" });
    expect(sent.id).toBeTruthy();
    expect((await view("acme", "a1")).me).toMatchObject({ phone: PHONES.a1 });
    expect((await view("acme", "a2")).status).toBe("STOPPED");
    // it went through a real stop and start on the restored credentials, never through a QR
    const a1 = eventsSince(mark, (e) => e.workspaceId === "acme" && e.sessionId === "a1");
    expect(a1.filter((e) => e.name === "wa.session.status").map((e) => e.status)).toEqual(["STOPPED", "STARTING", "WORKING"]);
    expect(a1.filter((e) => e.name === "wa.session.qr")).toEqual([]);
    await expect(fs.readFile(path.join(sessionsDir, "workspace_acme/session_a1/auth/creds.json"), "utf8")).resolves.toContain(`"${PHONES.a1}"`);
    expect((await stats()).conflicts).toBe(0);
    // beta: not one event, not one byte
    expect(eventsSince(mark, (e) => e.workspaceId === "beta")).toEqual([]);
    expect(await treeDigest(path.join(sessionsDir, "workspace_beta"))).toEqual(betaBefore);
    expect((await view("beta", "b1")).status).toBe("WORKING");
    expect(eventsSince(mark, (e) => e.name === "wa.backup.restored")).toHaveLength(1);
  });

  it("recovers everything onto an empty node from the snapshot (disaster recovery)", async () => {
    await stopNode();
    await fs.rm(sessionsDir, { recursive: true });
    node = await startNode();
    const started = Date.now();
    const report = await call("backup.restore", { snapshot });
    expect(report.workspaces.map((w: any) => w.workspaceId)).toEqual(["acme", "beta"]);
    // nobody may own the workspaces yet: then the coordinator finds them in storage and the owner
    // resumes them; if it already placed them, the owner reloaded them at once
    for (const w of report.workspaces) for (const s of w.sessions) expect(["awaiting-owner", "restarted", "restored-stopped"]).toContain(s.outcome);
    await working("acme", "a1", 30_000);
    await working("beta", "b1", 30_000);
    await working("acme", "a3", 30_000);
    process.stdout.write(`disaster recovery: 2 workspaces WORKING ${Date.now() - started} ms after the restore began\n`);
    expect((await view("acme", "a2")).status).toBe("STOPPED");
    expect(node!.events.filter((e) => e.name === "wa.session.qr")).toEqual([]);
    expect((await stats()).conflicts).toBe(0);
  });

  it("refuses a corrupted archive before touching any session or file", async () => {
    const r = await call("backup.now");
    const key = `e2e/${archiveKey(r.snapshot, "acme")}`;
    const client = s3.client();
    const obj = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const bytes = Buffer.from(await obj.Body!.transformToByteArray());
    bytes[bytes.length - 30] ^= 0x55;
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));
    client.destroy();

    const before = await treeDigest(sessionsDir);
    const mark = node!.events.length;
    await expect(call("backup.restore", { snapshot: r.snapshot, workspaceId: "acme" })).rejects.toMatchObject({ type: "SNAPSHOT_INVALID" });
    expect(await treeDigest(sessionsDir)).toEqual(before);
    expect(eventsSince(mark, (e) => e.name.startsWith("wa.session."))).toEqual([]);

    const v = await call("backup.verify", { snapshot: r.snapshot });
    expect(v.ok).toBe(false);
    expect(eventsSince(mark, (e) => e.name === "wa.backup.verified")).toEqual([expect.objectContaining({ snapshot: r.snapshot, ok: false })]);
    expect(metric(BACKUP_METRIC.verifyOk)).toBe(0);
    expect((await view("acme", "a1")).status).toBe("WORKING");
  });
});
