#!/usr/bin/env node
// The Secrets k8s/base expects for the cluster's trust boundary (DESIGN 8a): a private CA, TLS
// certificates for NATS and Redis signed by it, the nkey wafleet's pods present to NATS, and
// Redis's password. Writes them as files and as one Secret manifest to apply:
//
//   node scripts/cluster-secrets.mjs --out ./cluster-secrets [--namespace wafleet]
//   kubectl apply -f ./cluster-secrets/secrets.yaml
//
// Needs openssl on PATH. Keep the output folder out of git (it holds private keys).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { nkeys } from "nats";

function args(argv) {
  const out = { out: "", namespace: "wafleet", days: 825 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--out") out.out = argv[++i] ?? "";
    else if (a === "--namespace") out.namespace = argv[++i] ?? "";
    else if (a === "--days") out.days = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}; usage: cluster-secrets.mjs --out DIR [--namespace wafleet] [--days 825]`);
  }
  if (!out.out) throw new Error("--out DIR is required");
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(out.namespace)) throw new Error(`--namespace ${out.namespace} is not a Kubernetes namespace name`);
  if (!Number.isInteger(out.days) || out.days < 1) throw new Error("--days must be a positive integer");
  return out;
}

/** DNS names a Service is reached by inside the cluster (and loopback, for port-forwards). */
function serviceNames(service, ns, headless) {
  const names = [service, `${service}.${ns}`, `${service}.${ns}.svc`, `${service}.${ns}.svc.cluster.local`, "localhost"];
  // NATS routes dial each server by its stable name under the headless Service
  if (headless) names.push(`*.${headless}`, `*.${headless}.${ns}`, `*.${headless}.${ns}.svc`, `*.${headless}.${ns}.svc.cluster.local`);
  return names;
}

function main() {
  const opts = args(process.argv.slice(2));
  const dir = path.resolve(opts.out);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ssl = (...a) => execFileSync("openssl", a, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", String(opts.days), "-subj", `/CN=wafleet cluster CA (${opts.namespace})`);
  const cert = (name, sans) => {
    ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${sans[0]}`);
    writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${[...sans.map((s) => `DNS:${s}`), "IP:127.0.0.1"].join(",")}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", String(opts.days), "-extfile", `${name}.ext`);
  };
  cert("nats", serviceNames("nats", opts.namespace, "nats-headless"));
  cert("redis", serviceNames("redis", opts.namespace));
  const user = nkeys.createUser();
  const read = (f) => readFileSync(path.join(dir, f), "utf8");
  const secrets = {
    "nats-tls": { type: "kubernetes.io/tls", data: { "ca.crt": read("ca.crt"), "tls.crt": read("nats.crt"), "tls.key": read("nats.key") } },
    "redis-tls": { type: "kubernetes.io/tls", data: { "ca.crt": read("ca.crt"), "tls.crt": read("redis.crt"), "tls.key": read("redis.key") } },
    // the seed goes to wafleet's pods (NATS_CREDS), the public key to the NATS servers
    "wafleet-nats-auth": { type: "Opaque", data: { "nkey.seed": `${Buffer.from(user.getSeed()).toString("utf8")}\n`, "nkey.pub": user.getPublicKey() } },
    "wafleet-redis-auth": { type: "Opaque", data: { password: randomBytes(32).toString("base64url") } },
  };
  const docs = [];
  for (const [name, s] of Object.entries(secrets)) {
    mkdirSync(path.join(dir, name), { recursive: true, mode: 0o700 });
    for (const [k, v] of Object.entries(s.data)) writeFileSync(path.join(dir, name, k), v, { mode: 0o600 });
    const data = Object.entries(s.data).map(([k, v]) => `  ${k}: ${Buffer.from(v).toString("base64")}`).join("\n");
    docs.push(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: ${opts.namespace}\ntype: ${s.type}\ndata:\n${data}\n`);
  }
  writeFileSync(path.join(dir, "secrets.yaml"), docs.join("---\n"), { mode: 0o600 });
  process.stdout.write(`Wrote the cluster's CA, certificates, nkey and Redis password under ${dir}.\nApply them before the manifests:\n  kubectl apply -f ${path.join(dir, "secrets.yaml")}\nKeep ${dir} out of git: it holds private keys (ca.key signs new certificates).\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`cluster-secrets: ${err.message}\n`);
  process.exit(1);
}
