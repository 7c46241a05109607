// What Prometheus scrapes from a node, checked as Prometheus would use it: histograms carry
// `_sum` and `_count` (averages work), every counter an alert watches exists at 0 from the start
// (so increase() sees its first event), the backup node reports the target's newest verified
// snapshot as its last success right after a start, promtool parses the exposition, and the
// alert rules pass `promtool test rules` with series that start at their first event.
import { spawnSync } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { SnapshotCatalog } from "../../lib/backup/catalog";
import { FolderBlobStore } from "../../lib/backup/folder-store";
import { takeSnapshot } from "../../lib/backup/snapshot";
import { verifySnapshot } from "../../lib/backup/verify";
import { loadConfig } from "../../lib/config";
import { M, registerEventLogMetrics, registerSessionMetrics, type MetricRegistryLike } from "../../lib/ops/metrics";
import { OpsReporter, Readiness } from "../../lib/ops/ops-server";
import { WebhookCounters } from "../../lib/webhooks/metrics";
import backupService from "../../services/backup.service";
import { request } from "../helpers/http";
import { ROOT, tempDir, waitFor } from "../helpers/processes";

function promtool(args: string[], input?: string) {
  const r = spawnSync("promtool", args, { input, encoding: "utf8" });
  if (r.error) throw new Error(`promtool not runnable (install Debian's prometheus package): ${r.error.message}`);
  return r;
}

let root: string;
let broker: ServiceBroker;
let reporter: OpsReporter;
let snapshotFinishedAt: string;

const scrape = async () => (await request(`http://127.0.0.1:${reporter.port}`, "GET", "/metrics")).body.toString();
const sample = (text: string, series: RegExp) => text.split("\n").filter((l) => series.test(l));

beforeAll(async () => {
  root = await tempDir("metrics-prom");
  // a verified snapshot already in the target, from an earlier run of the backup node
  const s = path.join(root, "data/sessions/workspace_w1/session_s1");
  await fs.mkdir(path.join(s, "auth"), { recursive: true });
  await fs.writeFile(path.join(s, "meta.json"), JSON.stringify({ workspaceId: "w1", sessionId: "s1", desired: "running", fencingToken: 1 }));
  await fs.writeFile(path.join(s, "auth/creds.json"), "{}");
  const store = new FolderBlobStore(path.join(root, "backups"));
  const manifest = await takeSnapshot({ store, sessionsDir: path.join(root, "data/sessions"), node: "earlier", engine: "simulator", wafleetVersion: "test", now: () => new Date(Date.now() - 3 * 3600_000) });
  expect((await verifySnapshot(store, new SnapshotCatalog(store), manifest.id, "earlier")).ok).toBe(true);
  snapshotFinishedAt = manifest.finishedAt;

  reporter = new OpsReporter({ port: 0, host: "127.0.0.1" }, new Readiness());
  broker = new ServiceBroker({ nodeID: "m1", logger: false, metrics: { enabled: true, reporter: [reporter as any] } });
  const reg = broker.metrics as unknown as MetricRegistryLike;
  registerSessionMetrics(reg);
  registerEventLogMetrics(reg);
  const webhooks = new WebhookCounters(reg as any);
  const config = loadConfig({ DATA_DIR: path.join(root, "data"), SERVICES: "backup", BACKUP_TARGET: `file://${path.join(root, "backups")}` });
  broker.createService(backupService({ config, schedule: false }));
  await broker.start();
  await waitFor("the ops port", () => reporter.port, 5000, 20);
  // some samples in the histograms
  reg.observe(M.startSeconds, 1.5);
  reg.observe(M.startSeconds, 0.5);
  webhooks.attempt("delivered", 120);
});

afterAll(async () => {
  await broker?.stop();
  await fs.rm(root, { recursive: true, force: true });
});

describe("the Prometheus exposition", () => {
  it("exports _sum and _count beside the buckets of every histogram", async () => {
    const text = await scrape();
    expect(sample(text, /^wafleet_session_start_seconds_sum\{/)).toEqual([expect.stringMatching(/ 2$/)]);
    expect(sample(text, /^wafleet_session_start_seconds_count\{/)).toEqual([expect.stringMatching(/ 2$/)]);
    expect(sample(text, /^wafleet_webhook_delivery_seconds_sum\{.*result="delivered"/)).toEqual([expect.stringMatching(/ 0\.12$/)]);
    expect(sample(text, /^wafleet_webhook_delivery_seconds_count\{.*result="delivered"/)).toEqual([expect.stringMatching(/ 1$/)]);
    // every histogram series with buckets has both, equal to its +Inf bucket
    for (const inf of sample(text, /_bucket\{.*le="\+Inf"/)) {
      const [, name, labels, count] = inf.match(/^(\w+)_bucket\{(.*),?le="\+Inf"\} (\S+)$/)!;
      const base = labels!.replace(/,$/, "");
      expect(text).toContain(`${name}_count{${base}} ${count}`);
      expect(text).toContain(`${name}_sum{${base}} `);
    }
    const check = promtool(["check", "metrics"], text);
    expect(check.stderr.split("\n").filter((l) => /error parsing|parse error/i.test(l))).toEqual([]);
  });

  it("shows every counter an alert watches at 0 before its first event", async () => {
    const text = await scrape();
    for (const series of [
      /^wafleet_webhook_dead_letters_total\{[^}]*\} 0$/,
      /^wafleet_webhook_deliveries_total\{[^}]*result="dead"[^}]*\} 0$/,
      /^wafleet_session_disconnects_total\{[^}]*reason="CONFLICT"[^}]*\} 0$/,
      /^wafleet_session_disconnects_total\{[^}]*reason="HEARTBEAT_LOST"[^}]*\} 0$/,
      /^wafleet_session_disconnects_total\{[^}]*reason="other"[^}]*\} 0$/,
      /^wafleet_failovers_total\{[^}]*\} 0$/,
      /^wafleet_watchdog_restarts_total\{[^}]*\} 0$/,
      /^wafleet_engine_restarts_total\{[^}]*reason="memory"[^}]*\} 0$/,
      /^wafleet_messages_received_total\{[^}]*\} 0$/,
      /^wafleet_event_log_rejected_total\{[^}]*event="wa.message.received"[^}]*\} 0$/,
      /^wafleet_backup_failures_total\{[^}]*\} 0$/,
    ])
      expect({ series: String(series), lines: sample(text, series).length }).toEqual({ series: String(series), lines: 1 });
    // and generally: no wafleet counter is missing from the exposition before its first event
    const counters: string[] = [];
    (broker.metrics as any).store.forEach((m: any) => {
      if (m.type === "counter" && String(m.name).startsWith("wafleet")) counters.push(String(m.name).replace(/[.-]/g, "_"));
    });
    expect(counters.length).toBeGreaterThanOrEqual(10);
    expect(counters.filter((name) => !new RegExp(`^${name}(\\{[^}]*\\})? 0$`, "m").test(text))).toEqual([]);
  });

  it("reports the target's newest verified snapshot as the last backup success after a start", async () => {
    const text = await waitFor("the recalled last success", async () => {
      const t = await scrape();
      return /^wafleet_backup_last_success_timestamp_seconds\{/m.test(t) ? t : undefined;
    }, 10000, 50);
    expect(sample(text, /^wafleet_backup_last_success_timestamp_seconds\{/)).toEqual([expect.stringMatching(new RegExp(` ${Math.floor(Date.parse(snapshotFinishedAt) / 1000)}$`))]);
    expect(((await broker.call("backup.status")) as any).lastSuccess).toMatchObject({ at: snapshotFinishedAt, sessions: 1 });
  });
});

describe("the alert rules", () => {
  it("pass promtool's rule unit tests (k8s/monitoring/alert-rules.test.yml)", () => {
    const r = promtool(["test", "rules", path.join(ROOT, "k8s/monitoring/alert-rules.test.yml")]);
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: expect.stringMatching(/SUCCESS/) });
  });
});
