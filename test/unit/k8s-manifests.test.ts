// The Kubernetes manifests (k8s/): every file parses; the base and both overlays are built the way
// kustomize builds them (resources, namespace, images, ConfigMap generators, strategic-merge
// patches: a small builder in test/helpers/kustomize.ts, since no kustomize binary is packaged for CI) and every object
// validates against the Kubernetes OpenAPI schemas (kubernetes-models); every patch targets an
// object that exists; and names, ports, env and metrics agree with the code (lib/config read for
// its variable names and run on each container's environment, the metric names the code
// registers, the measured memory per session in docs/engines.md). No list is written here twice.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../../lib/config";
import { configVariables } from "../helpers/config-vars";
import { M } from "../../lib/ops/metrics";
import { sessionCost } from "../../lib/engines/weights";
import { registeredMetricNames } from "../helpers/metrics";
import { ROOT } from "../helpers/processes";
import { build, builds, find, id, K8S, mainContainer, materialize, mountedSecretKeys, OVERLAYS, podSpecOf, readDocs, wafleetWorkloads, type Build, type Obj } from "../helpers/kustomize";

// --- the tests ------------------------------------------------------------------------------------

// the Secrets of the trust boundary, as the operator makes them (runbook section 10)
let tmp: string;
let secretsDir: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "wafleet-k8s-"));
  secretsDir = path.join(tmp, "secrets");
  execFileSync(process.execPath, [path.join(ROOT, "scripts/cluster-secrets.mjs"), "--out", secretsDir], { cwd: ROOT, stdio: "ignore" });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let pods = 0;
/** A container's environment with its mounted Secrets made real (each pod its own root). */
const envOf = (b: Build, o: Obj, c: Obj) => materialize(b, o, c, secretsDir, path.join(tmp, `pod-${pods++}`));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

it("every YAML file under k8s/ parses", () => {
  const files = yamlFiles(K8S);
  expect(files.length).toBeGreaterThan(15);
  for (const f of files) expect(() => readDocs(f)).not.toThrow();
});

it("the base and both overlays build, and every object validates against the Kubernetes OpenAPI schemas", () => {
  for (const [name, b] of Object.entries(builds)) {
    const ids = b.objects.map(id);
    expect(new Set(ids).size).toBe(ids.length);
    const out = execFileSync(process.execPath, [path.join(ROOT, "test/helpers/k8s-validate.mjs")], { cwd: ROOT, input: JSON.stringify(b.objects), encoding: "utf8" });
    const results: Array<{ kind: string; name: string; error?: string }> = JSON.parse(out);
    expect({ build: name, invalid: results.filter((r) => r.error) }).toEqual({ build: name, invalid: [] });
    expect(results).toHaveLength(b.objects.length);
  }
  // the validator does reject a bad object
  const bad = execFileSync(process.execPath, [path.join(ROOT, "test/helpers/k8s-validate.mjs")], { cwd: ROOT, input: JSON.stringify([{ apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: "http" }] } }]), encoding: "utf8" });
  expect(JSON.parse(bad)[0].error).toMatch(/port must be integer/);
});

it("holds what the issue asks for: NATS with JetStream, Redis, the roles, PDBs, the HPA, an Ingress, alert rules and the dashboard", () => {
  const kinds = (b: Build) => b.objects.map(id).sort();
  for (const o of OVERLAYS) {
    expect(kinds(builds[o]!)).toEqual(
      expect.arrayContaining([
        "StatefulSet/nats",
        "StatefulSet/redis",
        "StatefulSet/wafleet-sessions",
        "Deployment/wafleet-api",
        "Deployment/wafleet-webhooks",
        "Deployment/wafleet-health",
        "Deployment/wafleet-backup",
        "Service/wafleet-api",
        "Service/wafleet-health",
        "Ingress/wafleet",
        "PodDisruptionBudget/wafleet-sessions",
        "HorizontalPodAutoscaler/wafleet-sessions",
        "PersistentVolumeClaim/wafleet-shared",
        "ConfigMap/wafleet-alert-rules",
        "ConfigMap/wafleet-grafana-dashboard",
      ]),
    );
    expect(builds[o]!.objects.every((x) => x.kind === "Namespace" || x.metadata.namespace === "wafleet")).toBe(true);
  }
  const natsConf = (b: Build) => find(b, "ConfigMap", "nats-config").data["nats.conf"] as string;
  for (const b of Object.values(builds)) expect(natsConf(b)).toMatch(/jetstream \{/);
  expect(find(builds.prod!, "StatefulSet", "nats").spec.replicas).toBe(3);
  expect(natsConf(builds.prod!).match(/nats:\/\/nats-\d\.nats-headless:6222/g)).toHaveLength(3);
  expect(find(builds.dev!, "StatefulSet", "nats").spec.replicas).toBe(1);
  expect(find(builds.prod!, "PersistentVolumeClaim", "wafleet-shared").spec).toMatchObject({ accessModes: ["ReadWriteMany"], storageClassName: "efs-sc" });
  const backup = find(builds.prod!, "Deployment", "wafleet-backup");
  expect(backup.spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
  // the alert rules in the cluster are the file promtool checks (test/e2e/cluster-health.test.ts)
  expect(find(builds.prod!, "ConfigMap", "wafleet-alert-rules").data["alert-rules.yml"]).toBe(readFileSync(path.join(K8S, "monitoring/alert-rules.yml"), "utf8"));
  expect(find(builds.prod!, "Deployment", "wafleet-api").spec.template.spec.containers[0].image).toBe("registry.example.com/wafleet:0.1.0");
});

it("every overlay patch targets an object its resources hold (the builder refuses any other)", () => {
  for (const o of OVERLAYS) {
    const k = parseYaml(readFileSync(path.join(K8S, "overlays", o, "kustomization.yaml"), "utf8"));
    const files = (k.patches as Array<{ path: string }>).map((p) => `overlays/${o}/${p.path}`);
    const applied = builds[o]!.patches;
    expect([...new Set(applied.map((p) => p.file))].sort()).toEqual(files.sort());
    const base = build(path.join(K8S, "base"));
    for (const p of applied) expect(base.objects.map(id)).toContain(p.target);
  }
  const dev = builds.dev!;
  expect(find(dev, "StatefulSet", "wafleet-sessions").spec.replicas).toBe(2);
  // a strategic merge, not a replacement: the patched container keeps its probes, preStop and mounts
  const c = mainContainer(find(dev, "StatefulSet", "wafleet-sessions"));
  expect(c.resources.requests.memory).toBe("512Mi");
  expect(c.lifecycle.preStop).toBeDefined();
  expect(c.volumeMounts.map((m: Obj) => m.name)).toEqual(["local", "shared", "dshm", "cluster-secrets", "tmp"]);
});

it("every wafleet container's environment is one lib/config accepts, with only variables it reads", () => {
  const config = configVariables();
  // every entry point reads its settings through lib/config, the simulated network's too
  expect(readFileSync(path.join(ROOT, "bin/sim.ts"), "utf8")).not.toMatch(/process\.env\./);
  for (const [name, b] of Object.entries(builds)) {
    for (const o of wafleetWorkloads(b)) {
      const c = mainContainer(o);
      const env = envOf(b, o, c);
      const sim = c.args?.[0] === "sim";
      const unknown = Object.keys(env).filter((k) => !config.has(k));
      expect({ build: name, workload: id(o), unknown }).toEqual({ build: name, workload: id(o), unknown: [] });
      if (sim) continue;
      // the config module itself accepts it (a bad value would stop the pod at start)
      expect(() => loadConfig(env, "/app")).not.toThrow();
      const cfg = loadConfig(env, "/app");
      expect(cfg.embedded).toBe(false);
      const port = (n: string) => c.ports.find((p: Obj) => p.name === n)?.containerPort;
      expect(port("ops")).toBe(cfg.opsPort);
      expect(cfg.opsPort).toBe(loadConfig({}).opsPort);
      if (cfg.services.includes("api")) {
        expect(port("http")).toBe(cfg.apiPort);
        expect(cfg.apiPort).toBe(loadConfig({}).apiPort);
      }
      // TRANSPORTER and REDIS_URL name Services of the same build, on their ports
      const url = (u: string) => new URL(u);
      const svcPort = (svc: string) => find(b, "Service", svc).spec.ports.map((p: Obj) => p.port);
      expect(svcPort(url(cfg.transporter).hostname)).toContain(Number(url(cfg.transporter).port));
      expect(svcPort(url(cfg.redisUrl).hostname)).toContain(Number(url(cfg.redisUrl).port));
      if (cfg.simUrl) expect(svcPort(url(cfg.simUrl).hostname)).toContain(Number(url(cfg.simUrl).port));
      if (cfg.services.includes("sessions") || cfg.services.includes("backup")) {
        const shared = c.volumeMounts.find((m: Obj) => m.name === "shared").mountPath as string;
        expect(cfg.sessionsDir.startsWith(`${shared}/`)).toBe(true);
        // the base leaves the backup target to each overlay
        if (name !== "base") expect(cfg.backupTarget).not.toBe("");
      }
    }
  }
});

it("probes use /readyz and /healthz on the ops port; every Service targets a port its pods have", () => {
  for (const b of Object.values(builds)) {
    for (const o of wafleetWorkloads(b)) {
      const c = mainContainer(o);
      if (c.args?.[0] === "sim") continue;
      expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "ops" });
      expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "ops" });
    }
    for (const svc of b.objects.filter((o) => o.kind === "Service")) {
      const pods = b.objects.filter((o) => podSpecOf(o) && Object.entries(svc.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
      expect({ svc: id(svc), pods: pods.length > 0 }).toEqual({ svc: id(svc), pods: true });
      for (const p of svc.spec.ports) {
        const names = pods.flatMap((w) => podSpecOf(w)!.containers.flatMap((c: Obj) => c.ports.map((x: Obj) => (typeof p.targetPort === "string" ? x.name : x.containerPort))));
        expect(names).toContain(p.targetPort);
      }
    }
    const ingress = find(b, "Ingress", "wafleet");
    for (const r of ingress.spec.rules.flatMap((x: Obj) => x.http.paths)) {
      const svc = find(b, "Service", r.backend.service.name);
      expect(svc.spec.ports.map((p: Obj) => p.name)).toContain(r.backend.service.port.name);
    }
  }
});

it("session pods drain on the way out, with a grace period longer than the drain", () => {
  const entry = readFileSync(path.join(ROOT, "docker/entrypoint.sh"), "utf8");
  const dockerfile = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
  const replSource = readFileSync(path.join(ROOT, "lib/ops/repl-commands.ts"), "utf8");
  const drainTimeoutMs = Number(/drain: (\d+)_?(\d*)/.exec(replSource)!.slice(1).join(""));
  for (const b of Object.values(builds)) {
    const s = find(b, "StatefulSet", "wafleet-sessions");
    const c = mainContainer(s);
    const cmd: string[] = c.lifecycle.preStop.exec.command;
    expect(cmd).toEqual(["/usr/local/bin/wafleet", "drain"]);
    expect(dockerfile).toContain("COPY docker/entrypoint.sh /usr/local/bin/wafleet");
    expect(entry).toMatch(/\n {2}drain\)\n[\s\S]*?wa-drain "\$NODE_ID"/);
    // the console's drain deadline, then SIGTERM's own (empty) drain and the broker's stop
    expect(s.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainTimeoutMs / 1000 + 30);
    expect(find(b, "PodDisruptionBudget", "wafleet-sessions").spec.maxUnavailable).toBe(1);
  }
});

it("session pods' memory is sized from the measured memory per session", () => {
  const engines = readFileSync(path.join(ROOT, "docs/engines.md"), "utf8");
  const measuredMb = Math.max(...[...engines.matchAll(/\*\*(\d+) MB\*\* PSS per session/g)].map((m) => Number(m[1])));
  expect(measuredMb).toBeGreaterThan(50);
  const gi = (q: string) => Number(/^(\d+)Gi$/.exec(q)![1]) * 1024;
  const b = builds.prod!;
  const c = mainContainer(find(b, "StatefulSet", "wafleet-sessions"));
  const config = loadConfig(envOf(b, find(b, "StatefulSet", "wafleet-sessions"), c), "/app");
  expect(config.engine).toBe("wwebjs");
  const needMiB = config.maxSessionsPerInstance * measuredMb;
  expect(gi(c.resources.requests.memory)).toBeGreaterThanOrEqual(needMiB);
  // and the node stops taking sessions before the kernel's OOM killer would: the watermark of the limit
  expect(gi(c.resources.limits.memory) * config.nodeMemoryWatermark).toBeGreaterThanOrEqual(needMiB);
});

it("a session pod full of baileys sessions fits its memory request and its node process's one event loop", () => {
  const engines = readFileSync(path.join(ROOT, "docs/engines.md"), "utf8");
  const figure = (re: RegExp) => Number(re.exec(engines)?.[1]);
  // the measured peak RSS and CPU per baileys session under load (docs/engines.md, "Capacity by engine")
  const mb = figure(/\*\*([0-9.]+) MB\*\* RSS per baileys session under load/);
  const cpuPct = figure(/\*\*([0-9.]+) %\*\* of a core per baileys session under load/);
  expect(mb).toBeGreaterThan(1);
  expect(cpuPct).toBeGreaterThan(0.01);
  const b = builds.prod!;
  const c = mainContainer(find(b, "StatefulSet", "wafleet-sessions"));
  const config = loadConfig(envOf(b, find(b, "StatefulSet", "wafleet-sessions"), c), "/app");
  const baileysSessions = config.maxSessionsPerInstance / sessionCost(config.engineWeights, config.engine, "baileys");
  expect(baileysSessions).toBeGreaterThan(config.maxSessionsPerInstance);
  expect(Number(/^(\d+)Gi$/.exec(c.resources.requests.memory)![1]) * 1024).toBeGreaterThanOrEqual(baileysSessions * mb);
  // every baileys session runs in the node process: together they must leave its event loop room
  expect(baileysSessions * cpuPct).toBeLessThanOrEqual(90);
});

it("the HPA scales the session StatefulSet on wafleet_sessions_utilization at the original design's 80%", () => {
  const exported = M.utilization.replace(/\./g, "_");
  for (const b of Object.values(builds)) {
    const hpa = find(b, "HorizontalPodAutoscaler", "wafleet-sessions");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "StatefulSet", name: "wafleet-sessions" });
    expect(hpa.spec.metrics).toEqual([{ type: "Pods", pods: { metric: { name: exported }, target: { type: "AverageValue", averageValue: "800m" } } }]);
    expect(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds).toBe(300);
  }
  const adapter = parseYaml(readFileSync(path.join(K8S, "monitoring/prometheus-adapter-rules.yaml"), "utf8"));
  expect(adapter.rules.custom[0].name.as).toBe(exported);
});

it("the dashboard and the alert rules use only metrics wafleet registers, and the dashboard shows what the issue lists", () => {
  const registered = registeredMetricNames();
  const used = (exprs: string[]) => new Set(exprs.flatMap((e) => [...e.matchAll(/\bwafleet_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""))));
  const dashboard = JSON.parse(readFileSync(path.join(K8S, "monitoring/grafana-dashboard.json"), "utf8"));
  const panels: Obj[] = dashboard.panels;
  const dashExprs = panels.flatMap((p) => p.targets.map((t: Obj) => t.expr as string));
  const rules = parseYaml(readFileSync(path.join(K8S, "monitoring/alert-rules.yml"), "utf8"));
  const ruleExprs = rules.groups.flatMap((g: Obj) => g.rules.map((r: Obj) => r.expr as string));
  for (const m of [...used(dashExprs), ...used(ruleExprs)]) expect({ metric: m, registered: registered.has(m) }).toEqual({ metric: m, registered: true });
  // any other metric is one of Moleculer's built-in ones (process, os), as its Prometheus reporter names them
  const constants = readFileSync(path.join(ROOT, "node_modules/moleculer/src/metrics/constants.js"), "utf8");
  const builtin = new Set([...constants.matchAll(/: "([a-z][a-z0-9.]+)"/g)].map((m) => m[1]!.replace(/\./g, "_")));
  const functions = new Set(["sum", "max", "min", "by", "rate", "increase", "histogram_quantile", "time", "le", "label_values"]);
  const others = dashExprs.flatMap((e) => [...e.replace(/\{[^}]*\}/g, "").replace(/"[^"]*"/g, "").replace(/\b(by|without) *\([^)]*\)/g, "").replace(/\[[^\]]*\]/g, "").matchAll(/\b([a-z][a-z0-9_]*)\b/g)].map((m) => m[1]!)).filter((n) => !n.startsWith("wafleet_") && !functions.has(n));
  expect(others.length).toBeGreaterThan(0);
  for (const m of others) expect({ metric: m, builtin: builtin.has(m) }).toEqual({ metric: m, builtin: true });
  const titles = panels.map((p) => p.title.toLowerCase()).join(" | ");
  for (const topic of ["sessions per node", "utilisation per node", "failover", "messages", "webhook queue", "backup age", "instance health", "memory and cpu"]) expect(titles).toContain(topic);
  expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
});

// --- the trust boundary (DESIGN 8a) ---------------------------------------------------------------

interface Peer {
  labels: Record<string, string>;
  namespace: string;
}
const matches = (sel: Obj | undefined, labels: Record<string, string>) => Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && !sel?.matchExpressions;

/** Whether the build's NetworkPolicies let `from` open a connection to `port` (a port name) of the workload's pods. */
function admits(b: Build, workload: Obj, port: string, from: Peer): boolean {
  const labels: Record<string, string> = workload.spec.template.metadata.labels;
  const ns = workload.metadata.namespace;
  const containerPort = podSpecOf(workload)!.containers.flatMap((c: Obj) => c.ports ?? []).find((p: Obj) => p.name === port);
  if (!containerPort) throw new Error(`${id(workload)} has no port ${port}`);
  const policies = b.objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === ns && matches(o.spec.podSelector, labels) && (o.spec.policyTypes ?? ["Ingress"]).includes("Ingress"));
  if (!policies.length) return true;
  const nsLabels = { "kubernetes.io/metadata.name": from.namespace };
  return policies.some((p) =>
    (p.spec.ingress ?? []).some((rule: Obj) => {
      const portOk = !rule.ports || rule.ports.some((x: Obj) => x.port === port || x.port === containerPort.containerPort);
      const peerOk =
        !rule.from ||
        rule.from.some((peer: Obj) => {
          if (peer.ipBlock) return true; // an address range: anyone there
          const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, nsLabels) : from.namespace === ns;
          const podOk = peer.podSelector ? matches(peer.podSelector, from.labels) : true;
          return nsOk && podOk;
        });
      return portOk && peerOk;
    }),
  );
}

it("NetworkPolicies: only wafleet's pods reach NATS, Redis and the ops ports; the REST API is open", () => {
  const wafleetPod = { labels: { "app.kubernetes.io/name": "wafleet", "app.kubernetes.io/component": "api" }, namespace: "wafleet" };
  const intruderHere = { labels: { app: "debug-shell" }, namespace: "wafleet" };
  const intruderElsewhere = { labels: { "app.kubernetes.io/name": "wafleet" }, namespace: "tenant-apps" };
  const prometheus = { labels: { "app.kubernetes.io/name": "prometheus" }, namespace: "monitoring" };
  const ingressController = { labels: { "app.kubernetes.io/name": "ingress-nginx" }, namespace: "ingress-nginx" };
  for (const [name, b] of Object.entries(builds)) {
    const nats = find(b, "StatefulSet", "nats");
    const redis = find(b, "StatefulSet", "redis");
    const cases: Array<[Obj, string, Peer, boolean]> = [
      [nats, "client", wafleetPod, true],
      [redis, "redis", wafleetPod, true],
      [nats, "client", intruderHere, false],
      [nats, "client", intruderElsewhere, false],
      [nats, "client", prometheus, false],
      [nats, "monitor", intruderHere, false],
      [nats, "cluster", wafleetPod, false],
      [nats, "cluster", { labels: { "app.kubernetes.io/name": "nats" }, namespace: "wafleet" }, true],
      [redis, "redis", intruderHere, false],
      [redis, "redis", intruderElsewhere, false],
      [find(b, "Deployment", "wafleet-api"), "http", ingressController, true],
      [find(b, "Deployment", "wafleet-api"), "http", intruderElsewhere, true],
    ];
    for (const w of wafleetWorkloads(b).filter((x) => mainContainer(x).args?.[0] !== "sim")) {
      cases.push([w, "ops", wafleetPod, true], [w, "ops", prometheus, true], [w, "ops", intruderHere, false], [w, "ops", intruderElsewhere, false], [w, "ops", ingressController, false]);
    }
    for (const [w, port, from, expected] of cases) {
      expect({ build: name, to: `${id(w)}:${port}`, from, admitted: admits(b, w, port, from) }).toEqual({ build: name, to: `${id(w)}:${port}`, from, admitted: expected });
    }
    // /health (every node's state) is not on the public Ingress, and no Service publishes NATS's monitor
    const paths = find(b, "Ingress", "wafleet").spec.rules.flatMap((r: Obj) => r.http.paths);
    expect(paths.map((p: Obj) => p.backend.service.name)).toEqual(["wafleet-api"]);
    for (const svc of b.objects.filter((o) => o.kind === "Service" && o.spec.selector["app.kubernetes.io/name"] === "nats")) {
      expect(svc.spec.ports.map((p: Obj) => p.targetPort)).not.toContain("monitor");
    }
  }
});

it("NATS and Redis require credentials and TLS, every node is configured with them, and every Secret comes from somewhere", () => {
  const made = new Set(readdirSync(secretsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => readdirSync(path.join(secretsDir, e.name)).map((k) => `${e.name}/${k}`)));
  // created by the operator, outside git (the prod overlay's notes); the backup credentials are optional
  const operators = new Set(["wafleet-secrets/API_KEYS"]);
  for (const [name, b] of Object.entries(builds)) {
    const conf = find(b, "ConfigMap", "nats-config").data["nats.conf"] as string;
    const nats = find(b, "StatefulSet", "nats");
    const natsC = podSpecOf(nats)!.containers[0];
    const natsFiles = mountedSecretKeys(nats, natsC);
    for (const f of ["tls.crt", "tls.key", "ca.crt"]) expect(natsFiles).toContainEqual({ secret: "nats-tls", key: f, file: expect.any(String) });
    expect(conf).toMatch(/^ {0}tls \{[^}]*cert_file: (\S+)[^}]*key_file: (\S+)/m);
    for (const file of [...conf.matchAll(/(?:cert|key|ca)_file: (\S+)/g)].map((m) => m[1])) expect(natsFiles.map((f) => f.file)).toContain(file);
    expect(conf).toMatch(/authorization \{\s*users: \[\s*\{ nkey: \$WAFLEET_NKEY \}\s*\]\s*\}/);
    expect(natsC.env.find((e: Obj) => e.name === "WAFLEET_NKEY").valueFrom.secretKeyRef).toEqual({ name: "wafleet-nats-auth", key: "nkey.pub" });
    if (name === "prod") expect(conf).toMatch(/cluster \{[\s\S]*tls \{/);
    const redis = find(b, "StatefulSet", "redis");
    const redisC = podSpecOf(redis)!.containers[0];
    const args = (redisC.args as string[]).join(" ");
    expect(args).toMatch(/--port 0 --tls-port 6379/);
    expect(args).toContain("--requirepass $(REDIS_PASSWORD)");
    expect(redisC.env.find((e: Obj) => e.name === "REDIS_PASSWORD").valueFrom.secretKeyRef).toEqual({ name: "wafleet-redis-auth", key: "password" });
    for (const w of [nats, redis]) {
      const pod = podSpecOf(w)!;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    }
    for (const w of wafleetWorkloads(b).filter((x) => mainContainer(x).args?.[0] !== "sim")) {
      const cfg = loadConfig(envOf(b, w, mainContainer(w)), "/app");
      expect({ workload: id(w), transporter: cfg.transporter.split("://")[0], natsCa: !!cfg.natsCa, natsCreds: !!cfg.natsCreds, redis: cfg.redisUrl.split("://")[0], redisCa: !!cfg.redisCa, redisPassword: cfg.redisPassword.length >= 32 }).toEqual({
        workload: id(w),
        transporter: "tls",
        natsCa: true,
        natsCreds: true,
        redis: "rediss",
        redisCa: true,
        redisPassword: true,
      });
    }
    // every Secret key a pod reads exists: in the build, made by scripts/cluster-secrets.mjs, or the operator's
    for (const w of b.objects.filter((o) => podSpecOf(o))) {
      for (const c of podSpecOf(w)!.containers) {
        const refs = [...(c.env ?? []).filter((e: Obj) => e.valueFrom?.secretKeyRef).map((e: Obj) => `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`), ...mountedSecretKeys(w, c).map((f) => `${f.secret}/${f.key}`)];
        for (const ref of refs) {
          const [secret, key] = ref.split("/");
          const inBuild = b.objects.some((o) => o.kind === "Secret" && o.metadata.name === secret && (o.stringData?.[key!] ?? o.data?.[key!]) !== undefined);
          expect({ build: name, workload: id(w), ref, found: inBuild || made.has(ref) || operators.has(ref) }).toEqual({ build: name, workload: id(w), ref, found: true });
        }
      }
    }
  }
  // the script's Secret manifest is valid Kubernetes
  const secrets = readDocs(path.join(secretsDir, "secrets.yaml"));
  expect(secrets.map((s) => s.metadata.name).sort()).toEqual(["nats-tls", "redis-tls", "wafleet-nats-auth", "wafleet-redis-auth"]);
  const out = JSON.parse(execFileSync(process.execPath, [path.join(ROOT, "test/helpers/k8s-validate.mjs")], { cwd: ROOT, input: JSON.stringify(secrets), encoding: "utf8" }));
  expect(out.filter((r: Obj) => r.error)).toEqual([]);
});

/** The runtime image's ENV (Dockerfile), which every pod starts from. */
const IMAGE_ENV: Record<string, string> = Object.fromEntries([...readFileSync(path.join(ROOT, "Dockerfile"), "utf8").matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1]!, m[2]!]));

it("every pod runs hardened: non-root, RuntimeDefault seccomp, no service account token, no privilege or capabilities, a read-only root with writable mounts where the code writes", () => {
  for (const [name, b] of Object.entries(builds)) {
    for (const w of b.objects.filter((o) => podSpecOf(o))) {
      const pod = podSpecOf(w)!;
      const where = { build: name, workload: id(w) };
      expect({ ...where, token: pod.automountServiceAccountToken, nonRoot: pod.securityContext?.runAsNonRoot, seccomp: pod.securityContext?.seccompProfile?.type }).toEqual({ ...where, token: false, nonRoot: true, seccomp: "RuntimeDefault" });
      for (const c of pod.containers) {
        expect({ ...where, container: c.name, securityContext: c.securityContext }).toEqual({ ...where, container: c.name, securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } } });
      }
    }
    for (const w of wafleetWorkloads(b)) {
      const c = mainContainer(w);
      if (c.args?.[0] === "sim") continue;
      // the image's own ENV first (DATA_DIR, SESSIONS_DIR), then the pod's
      const cfg = loadConfig({ ...IMAGE_ENV, ...envOf(b, w, c) }, "/app");
      // what the code writes is on a writable mount: DATA_DIR, SESSIONS_DIR where mounted, /tmp
      const writable = (c.volumeMounts as Obj[]).filter((m) => !m.readOnly).map((m) => m.mountPath as string);
      const onMount = (p: string) => writable.some((m) => p === m || p.startsWith(`${m}/`));
      expect({ workload: id(w), dataDir: onMount(cfg.dataDir), tmp: onMount("/tmp") }).toEqual({ workload: id(w), dataDir: true, tmp: true });
      if (cfg.services.includes("sessions") || cfg.services.includes("backup")) expect(onMount(cfg.sessionsDir)).toBe(true);
      // Chromium's own sandbox needs user namespaces, which RuntimeDefault refuses: off there, by choice
      if (cfg.services.includes("sessions") && cfg.engine === "wwebjs") expect(cfg.chromeSandbox).toBe("off");
    }
  }
});
