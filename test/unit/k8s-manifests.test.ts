// The Kubernetes manifests (k8s/): every file parses; the base and both overlays are built the way
// kustomize builds them (resources, namespace, images, ConfigMap generators, strategic-merge
// patches: a small builder below, since no kustomize binary is packaged for CI) and every object
// validates against the Kubernetes OpenAPI schemas (kubernetes-models); every patch targets an
// object that exists; and names, ports, env and metrics agree with the code (lib/config read for
// its variable names and run on each container's environment, the metric names the code
// registers, the measured memory per session in docs/engines.md). No list is written here twice.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { loadConfig } from "../../lib/config";
import { configVariables } from "../helpers/config-vars";
import { M } from "../../lib/ops/metrics";
import { registeredMetricNames } from "../helpers/metrics";
import { ROOT } from "../helpers/processes";

type Obj = Record<string, any>;
const K8S = path.join(ROOT, "k8s");
const OVERLAYS = ["dev", "prod"];

// --- a kustomize build (the subset these manifests use) ------------------------------------------

/** patchMergeKey of the lists these manifests patch (Kubernetes' strategic merge); others are replaced. */
const MERGE_KEYS: Record<string, string> = { containers: "name", initContainers: "name", env: "name", volumes: "name", volumeMounts: "mountPath", volumeClaimTemplates: "metadata.name" };
const keyOf = (item: Obj, key: string) => key.split(".").reduce((o, k) => o?.[k], item);

function strategicMerge(base: any, patch: any): any {
  if (Array.isArray(patch) || typeof patch !== "object" || patch === null || typeof base !== "object" || base === null || Array.isArray(base)) return structuredClone(patch);
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(base[k]) && MERGE_KEYS[k]) {
      const key = MERGE_KEYS[k]!;
      const merged = base[k].map((x: Obj) => structuredClone(x));
      for (const item of v) {
        const i = merged.findIndex((x: Obj) => keyOf(x, key) === keyOf(item, key));
        if (i >= 0) merged[i] = strategicMerge(merged[i], item);
        else merged.push(structuredClone(item));
      }
      out[k] = merged;
    } else out[k] = k in base ? strategicMerge(base[k], v) : structuredClone(v);
  }
  return out;
}

const readDocs = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return d.toJS();
    })
    .filter(Boolean);

const id = (o: Obj) => `${o.kind}/${o.metadata.name}`;
const CLUSTER_SCOPED = new Set(["Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding"]);
const podSpecOf = (o: Obj): Obj | undefined => o.spec?.template?.spec;

interface Build {
  objects: Obj[];
  /** every patch applied, with the object it targeted */
  patches: Array<{ file: string; target: string }>;
}

function build(dir: string): Build {
  const k = parseYaml(readFileSync(path.join(dir, "kustomization.yaml"), "utf8"));
  const known = new Set(["apiVersion", "kind", "namespace", "resources", "patches", "images", "configMapGenerator", "generatorOptions"]);
  for (const field of Object.keys(k)) if (!known.has(field)) throw new Error(`${dir}: kustomization field ${field} is not handled by this builder`);
  const objects: Obj[] = [];
  const patches: Build["patches"] = [];
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (statSync(p).isDirectory()) {
      const sub = build(p);
      objects.push(...sub.objects);
      patches.push(...sub.patches);
    } else objects.push(...readDocs(p));
  }
  for (const g of k.configMapGenerator ?? []) {
    if (!k.generatorOptions?.disableNameSuffixHash) throw new Error(`${dir}: generated names carry a hash suffix; this builder expects disableNameSuffixHash`);
    const data = Object.fromEntries((g.files as string[]).map((f) => [path.basename(f), readFileSync(path.join(dir, f), "utf8")]));
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name, ...(g.options?.labels ? { labels: g.options.labels } : {}) }, data });
  }
  for (const p of k.patches ?? []) {
    if (!p.path || p.target) throw new Error(`${dir}: only patches by path, targeted by their own kind and name, are handled`);
    for (const doc of readDocs(path.join(dir, p.path))) {
      const i = objects.findIndex((o) => o.kind === doc.kind && o.metadata.name === doc.metadata.name && o.apiVersion === doc.apiVersion);
      if (i < 0) throw new Error(`${dir}/${p.path}: patch targets ${doc.apiVersion} ${id(doc)}, which the resources do not hold`);
      objects[i] = strategicMerge(objects[i], doc);
      patches.push({ file: path.relative(K8S, path.join(dir, p.path)), target: id(doc) });
    }
  }
  for (const img of k.images ?? []) {
    for (const o of objects) {
      for (const c of [...(podSpecOf(o)?.containers ?? []), ...(podSpecOf(o)?.initContainers ?? [])]) {
        const [name, tag] = String(c.image).split(":");
        if (name === img.name) c.image = `${img.newName ?? name}:${img.newTag ?? tag}`;
      }
    }
  }
  if (k.namespace) for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata = { ...o.metadata, namespace: k.namespace };
  return { objects, patches };
}

const builds = Object.fromEntries(["base", ...OVERLAYS].map((n) => [n, build(n === "base" ? path.join(K8S, "base") : path.join(K8S, "overlays", n))])) as Record<string, Build>;
const find = (b: Build, kind: string, name: string) => {
  const o = b.objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
};
const wafleetWorkloads = (b: Build) => b.objects.filter((o) => podSpecOf(o)?.containers.some((c: Obj) => /(^|\/)wafleet:/.test(c.image)));
const mainContainer = (o: Obj) => podSpecOf(o)!.containers.find((c: Obj) => /(^|\/)wafleet:/.test(c.image)) as Obj;

/** The environment a wafleet container sees (ConfigMaps and Secrets from the same build). */
function containerEnv(b: Build, o: Obj, c: Obj): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, find(b, "ConfigMap", from.configMapRef.name).data);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = `${o.metadata.name}-0`;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = "a-secret-of-at-least-sixteen-characters";
    else throw new Error(`${id(o)}: env ${e.name} has a source this test does not know`);
  }
  return env;
}

// --- the tests ------------------------------------------------------------------------------------

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
  expect(c.volumeMounts.map((m: Obj) => m.name)).toEqual(["local", "shared", "dshm"]);
});

it("every wafleet container's environment is one lib/config accepts, with only variables it reads", () => {
  const config = configVariables();
  // every entry point reads its settings through lib/config, the simulated network's too
  expect(readFileSync(path.join(ROOT, "bin/sim.ts"), "utf8")).not.toMatch(/process\.env\./);
  for (const [name, b] of Object.entries(builds)) {
    for (const o of wafleetWorkloads(b)) {
      const c = mainContainer(o);
      const env = containerEnv(b, o, c);
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
  const config = loadConfig(containerEnv(b, find(b, "StatefulSet", "wafleet-sessions"), c), "/app");
  expect(config.engine).toBe("wwebjs");
  const needMiB = config.maxSessionsPerInstance * measuredMb;
  expect(gi(c.resources.requests.memory)).toBeGreaterThanOrEqual(needMiB);
  // and the node stops taking sessions before the kernel's OOM killer would: the watermark of the limit
  expect(gi(c.resources.limits.memory) * config.nodeMemoryWatermark).toBeGreaterThanOrEqual(needMiB);
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
