// Validates Kubernetes objects against the OpenAPI schemas bundled by kubernetes-models (an ES
// module, which jest's CommonJS runtime cannot load): reads a JSON array of objects on stdin,
// prints a JSON array of {kind, name, error?}; exit 0 either way (the test judges).
import { readFileSync } from "node:fs";

const objects = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const o of objects) {
  const name = o?.metadata?.name;
  try {
    // apiVersion "v1" -> kubernetes-models/v1; "apps/v1" -> kubernetes-models/apps/v1
    const mod = await import(`kubernetes-models/${o.apiVersion}`);
    const Model = mod[o.kind];
    if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
    new Model(o).validate();
    out.push({ kind: o.kind, name });
  } catch (err) {
    out.push({ kind: o?.kind, name, error: err.message });
  }
}
process.stdout.write(JSON.stringify(out));
