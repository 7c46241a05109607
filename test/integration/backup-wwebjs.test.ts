// The restore set is enough for the real client: a wwebjs session (whatsapp-web.js + real Chromium
// + LocalAuth, against the fake WhatsApp Web page on the simulated network) is linked, stopped and
// snapshotted; its whole profile is then deleted, the snapshot restored (IndexedDB and Local
// Storage only, no caches), and the engine comes back ready without a QR and without a conflict.
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { EngineEvents } from "../../lib/engines/types";
import type { WwebjsEngine, WwebjsEngineOptions } from "../../lib/engines/wwebjs";
import { SnapshotCatalog } from "../../lib/backup/catalog";
import { restoreSnapshot } from "../../lib/backup/restore";
import { takeSnapshot } from "../../lib/backup/snapshot";
import { FolderBlobStore } from "../../lib/backup/folder-store";
import { expectNoChromiumUnder, fakePageOptions, recordedEngine } from "../helpers/chromium";
import { tempDir } from "../helpers/processes";
import { startTestSim, type TestSim } from "../helpers/sim";

const PHONE = "15550009001";
let sim: TestSim;
let root: string;
let base: WwebjsEngineOptions;

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("backup-wwebjs");
  base = await fakePageOptions(path.join(root, "fake-wa-web"), sim.url);
});

afterAll(async () => {
  await sim?.close();
  await expectNoChromiumUnder(root);
  await fs.rm(root, { recursive: true, force: true });
});

const next = <K extends keyof EngineEvents>(engine: WwebjsEngine, event: K, timeoutMs = 30000) => once(engine, event, { signal: AbortSignal.timeout(timeoutMs) }) as Promise<EngineEvents[K]>;

it("brings a real wwebjs session back from IndexedDB and Local Storage alone, without a QR", async () => {
  const sessionsDir = path.join(root, "sessions");
  const sessionDir = path.join(sessionsDir, "workspace_w1", "session_s1");
  const authDir = path.join(sessionDir, "auth");
  await fs.mkdir(authDir, { recursive: true });
  await fs.writeFile(path.join(sessionDir, "meta.json"), JSON.stringify({ workspaceId: "w1", sessionId: "s1", accountId: null, desired: "running", metadata: {}, createdAt: "x", updatedAt: "x", fencingToken: 1 }));

  const first = recordedEngine(authDir, base, { workspaceId: "w1", sessionId: "s1" });
  const qr = next(first.engine, "qr");
  await first.engine.start();
  const [code] = await qr;
  const ready = next(first.engine, "ready");
  expect((await sim.post("/sim/link", { qr: code, phone: PHONE })).status).toBe(200);
  await ready;
  await first.engine.stop();

  const store = new FolderBlobStore(path.join(root, "backups"));
  const m = await takeSnapshot({ store, sessionsDir, node: "n1", engine: "wwebjs", wafleetVersion: "test" });
  const s = m.archives[0]!.sessions[0]!;
  expect(s).toMatchObject({ sessionId: "s1", engine: "wwebjs", consistency: "stable" });
  // the profile Chromium left is much more than what is archived
  const profileBytes = await du(authDir);
  expect(s.bytes).toBeLessThan(profileBytes);

  await fs.rm(sessionDir, { recursive: true });
  const report = await restoreSnapshot({ store, catalog: new SnapshotCatalog(store), sessionsDir, control: { list: async () => [], stop: async () => undefined, start: async () => undefined }, logger: { info() {}, warn() {} } }, m.id, "w1");
  expect(report.workspaces[0]!.sessions).toEqual([{ sessionId: "s1", outcome: "awaiting-owner" }]);
  const restoredTop = await fs.readdir(path.join(authDir, "session-s1", "Default"));
  expect(restoredTop.sort()).toEqual(["IndexedDB", "Local Storage"]);

  const again = recordedEngine(authDir, base, { workspaceId: "w1", sessionId: "s1" });
  const readyAgain = next(again.engine, "ready");
  await again.engine.start();
  const [me] = await readyAgain;
  expect(me.phone).toBe(PHONE);
  expect(again.names()).not.toContain("qr");
  expect((await sim.get("/sim/stats")).json.conflicts).toBe(0);
  await again.engine.stop();
}, 120_000);

async function du(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return n;
}
