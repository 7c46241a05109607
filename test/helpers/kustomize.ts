// A kustomize build of k8s/ (the subset these manifests use: resources, namespace, images, ConfigMap
// generators, strategic-merge patches), since no kustomize binary is packaged for CI; and what a
// wafleet container sees of it (its environment, the files of its mounted Secrets).
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { ROOT } from "./processes";

export type Obj = Record<string, any>;
export const K8S = path.join(ROOT, "k8s");
export const OVERLAYS = ["dev", "prod"];


/** patchMergeKey of the lists these manifests patch (Kubernetes' strategic merge); others are replaced. */
export const MERGE_KEYS: Record<string, string> = { containers: "name", initContainers: "name", env: "name", volumes: "name", volumeMounts: "mountPath", volumeClaimTemplates: "metadata.name" };
export const keyOf = (item: Obj, key: string) => key.split(".").reduce((o, k) => o?.[k], item);

export function strategicMerge(base: any, patch: any): any {
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

export const readDocs = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return d.toJS();
    })
    .filter(Boolean);

export const id = (o: Obj) => `${o.kind}/${o.metadata.name}`;
export const CLUSTER_SCOPED = new Set(["Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding"]);
export const podSpecOf = (o: Obj): Obj | undefined => o.spec?.template?.spec;

export interface Build {
  objects: Obj[];
  /** every patch applied, with the object it targeted */
  patches: Array<{ file: string; target: string }>;
}

export function build(dir: string): Build {
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

export const builds = Object.fromEntries(["base", ...OVERLAYS].map((n) => [n, build(n === "base" ? path.join(K8S, "base") : path.join(K8S, "overlays", n))])) as Record<string, Build>;
export const find = (b: Build, kind: string, name: string) => {
  const o = b.objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name}`);
  return o;
};
export const wafleetWorkloads = (b: Build) => b.objects.filter((o) => podSpecOf(o)?.containers.some((c: Obj) => /(^|\/)wafleet:/.test(c.image)));
export const mainContainer = (o: Obj) => podSpecOf(o)!.containers.find((c: Obj) => /(^|\/)wafleet:/.test(c.image)) as Obj;

/** The environment a wafleet container sees (ConfigMaps and Secrets from the same build). */
export function containerEnv(b: Build, o: Obj, c: Obj, secret: (name: string, key: string) => string = () => "a-secret-of-at-least-sixteen-characters"): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, find(b, "ConfigMap", from.configMapRef.name).data);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = `${o.metadata.name}-0`;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secret(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    else throw new Error(`${id(o)}: env ${e.name} has a source this test does not know`);
  }
  return env;
}

/** The Secrets (name, key) a container mounts, with the path each key appears at in the container. */
export function mountedSecretKeys(o: Obj, c: Obj): Array<{ secret: string; key: string; file: string }> {
  const out: Array<{ secret: string; key: string; file: string }> = [];
  const volumes: Obj[] = podSpecOf(o)!.volumes ?? [];
  const claims = new Set((o.spec.volumeClaimTemplates ?? []).map((t: Obj) => t.metadata.name));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.find((x) => x.name === m.name);
    if (!v && claims.has(m.name)) continue;
    if (!v) throw new Error(`${id(o)}: mount ${m.name} has no volume`);
    const sources: Obj[] = v.secret ? [{ secret: { name: v.secret.secretName, items: v.secret.items } }] : (v.projected?.sources ?? []);
    for (const s of sources) {
      if (!s.secret) continue;
      if (!s.secret.items) throw new Error(`${id(o)}: secret ${s.secret.name} is mounted without items; list the keys it needs`);
      for (const it of s.secret.items) out.push({ secret: s.secret.name, key: it.key, file: path.posix.join(m.mountPath, it.path) });
    }
  }
  return out;
}

/**
 * The container's environment with its mounted Secret files made real under root: each key is copied
 * from secretsDir/<secret>/<key> (the layout scripts/cluster-secrets.mjs writes), and every variable
 * naming a file in a mount is pointed at the copy.
 */
export function materialize(b: Build, o: Obj, c: Obj, secretsDir: string, root: string): Record<string, string> {
  const secret = (name: string, key: string) => {
    // a Secret of the build itself (dev), else one of the script's, else one the operator creates
    const own = b.objects.find((x) => x.kind === "Secret" && x.metadata.name === name);
    if (own) return own.stringData?.[key] ?? Buffer.from(own.data?.[key] ?? "", "base64").toString("utf8");
    const file = path.join(secretsDir, name, key);
    return existsSync(file) ? readFileSync(file, "utf8") : "a-secret-of-at-least-sixteen-characters";
  };
  const env = containerEnv(b, o, c, secret);
  const mounted = mountedSecretKeys(o, c);
  for (const f of mounted) {
    const target = path.join(root, f.file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, secret(f.secret, f.key));
  }
  for (const [k, v] of Object.entries(env)) if (mounted.some((f) => f.file === v)) env[k] = path.join(root, v);
  return env;
}
