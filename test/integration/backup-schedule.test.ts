// The backup service on its own broker: BACKUP_CRON drives runs (a per-second schedule here),
// each run is announced as events, and the actions validate what they are given.
import { promises as fs } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import backupService from "../../services/backup.service";
import { tempDir, waitFor } from "../helpers/processes";

let root: string;
let broker: ServiceBroker;
const events: Array<{ name: string; [k: string]: any }> = [];

beforeAll(async () => {
  root = await tempDir("backup-schedule");
  const s = path.join(root, "data/sessions/workspace_w1/session_s1");
  await fs.mkdir(path.join(s, "auth"), { recursive: true });
  await fs.writeFile(path.join(s, "meta.json"), JSON.stringify({ workspaceId: "w1", sessionId: "s1", desired: "running", fencingToken: 1 }));
  await fs.writeFile(path.join(s, "auth/creds.json"), "{}");
  const config = loadConfig({ DATA_DIR: path.join(root, "data"), SERVICES: "backup", BACKUP_TARGET: `file://${path.join(root, "backups")}`, BACKUP_CRON: "* * * * * *" });
  broker = new ServiceBroker({ nodeID: "bk", logger: false });
  broker.createService(backupService({ config }));
  broker.createService({
    name: "recorder",
    events: {
      "wa.backup.*"(ctx: any) {
        events.push({ name: ctx.eventName, ...ctx.params });
      },
    },
  });
  await broker.start();
});

afterAll(async () => {
  await broker?.stop();
  await fs.rm(root, { recursive: true, force: true });
});

it("runs snapshots on the BACKUP_CRON schedule and announces them", async () => {
  const ok = await waitFor("a scheduled snapshot", () => events.find((e) => e.name === "wa.backup.succeeded"), 10000, 20);
  expect(ok).toMatchObject({ node: "bk", totals: { workspaces: 1, sessions: 1 }, id: expect.any(String), timestamp: expect.any(String) });
  await waitFor("its verify", () => events.find((e) => e.name === "wa.backup.verified" && e.snapshot === ok.snapshot), 10000, 20);
  const status: any = await broker.call("backup.status");
  expect(status).toMatchObject({ cron: "* * * * * *", target: `file://${path.join(root, "backups")}`, lastSuccess: { sessions: 1 } });
  expect(typeof status.scheduled).toBe("string");
});

it("validates snapshot and workspace ids", async () => {
  await expect(broker.call("backup.restore", { snapshot: "../../etc" })).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
  await expect(broker.call("backup.restore", { snapshot: "20261129T020000123Z-1a2b", workspaceId: "a/b" })).rejects.toMatchObject({ type: "VALIDATION_ERROR" });
  await expect(broker.call("backup.get", { snapshot: "20261129T020000123Z-1a2b" })).rejects.toMatchObject({ type: "SNAPSHOT_NOT_FOUND" });
});
