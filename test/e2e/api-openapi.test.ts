// The OpenAPI document against the live routes: the served document validates with a real
// validator, every documented operation is routed by the running process, and every route the
// gateway's request pipeline serves is documented.
import { promises as fs } from "node:fs";
import { ServiceBroker } from "moleculer";
import { loadConfig, sha256Hex } from "../../lib/config";
import { fullPathOf, type RouteDef } from "../../lib/api/routes";
import apiService from "../../services/api.service";
import { request } from "../helpers/http";
import { tempDir } from "../helpers/processes";
import { ADMIN, mismatch, startApiNode, validateOpenApi, type ApiNode } from "./api-harness";

let node: ApiNode;
let doc: any;

beforeAll(async () => {
  node = await startApiNode();
  const res = await request(node.api, "GET", "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  doc = res.json;
  // a session and a key to talk about, so most probes get a 2xx body to hold against the document
  expect((await node.call("POST", "/api/v1/workspaces/acme/sessions", { body: { sessionId: "main", start: false } })).status).toBe(201);
}, 60000);

afterAll(async () => {
  await node?.stop();
});

/** A value of the right shape for each path parameter, so a request is routed and validated. */
const SAMPLE: Record<string, string> = { workspaceId: "acme", sessionId: "main", keyId: "0123456789abcdef", deliveryId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", node: "no-such-node", id: "main" };

/** Bodies that pass validation where {} would not. */
const BODY: Record<string, unknown> = { "/api/whatsapp/sessions/create": { workspace_id: "acme", start: false } };

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path: p, op })));

describe("the served OpenAPI document", () => {
  it("is served without a key and validates as OpenAPI 3.1", async () => {
    await expect(validateOpenApi(doc)).resolves.toMatch(/^valid: 3\.1\.0/);
  });

  it("describes only operations the process routes (each answers, none 404 NOT_FOUND or 405), and their answers", async () => {
    const unrouted: string[] = [];
    const checked: string[] = [];
    // deletes last: the probes before them still find the session
    const ops = operations().sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
    for (const { method, path: p, op } of ops) {
      if (op.responses["200"]?.content?.["text/event-stream"]) continue; // the stream never ends; routed is shown in embedded.test.ts
      const url = p.replace(/\{([A-Za-z_]+)\}/g, (_m, n) => SAMPLE[n] ?? "x");
      const res = await request(node.api, method, url, { key: ADMIN, body: method === "POST" || method === "PUT" ? (BODY[p] ?? {}) : undefined });
      if (res.status >= 500 && res.json?.error?.code !== "SERVICE_UNAVAILABLE") unrouted.push(`${method} ${url}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      if (res.status === 405 || res.json?.error?.code === "NOT_FOUND") unrouted.push(`${method} ${url}: ${res.status} ${res.json?.error?.code}`);
      const documented = op.responses[String(res.status)];
      if (!documented) unrouted.push(`${method} ${url}: answered ${res.status}, which is not documented`);
      const schema = documented?.content?.["application/json"]?.schema;
      if (res.status < 300 && res.json !== undefined && schema) {
        const m = mismatch(res.json, schema, doc);
        if (m) unrouted.push(`${method} ${url}: the answer does not fit the document (${m})`);
        else checked.push(`${method} ${p}`);
      }
    }
    expect(unrouted).toEqual([]);
    // the session, key, health and compat answers were held against their schemas
    expect(checked).toEqual(expect.arrayContaining(["POST /api/v1/workspaces/{workspaceId}/sessions", "GET /api/v1/workspaces/{workspaceId}/sessions/{sessionId}", "POST /api/v1/workspaces/{workspaceId}/keys", "POST /api/whatsapp/sessions/create"]));
  });

  it("documents every route the gateway's pipeline serves", async () => {
    const dir = await tempDir("openapi-live");
    const config = loadConfig({ API_PORT: "0", API_HOST: "127.0.0.1", DATA_DIR: dir, API_KEYS: ADMIN });
    const broker = new ServiceBroker({ logger: false, nodeID: "openapi-check" });
    const svc: any = broker.createService(apiService({ config, keys: { hashes: [Buffer.from(sha256Hex(ADMIN), "hex")] } }));
    await broker.start();
    try {
      const live = (svc.pipeline.routes as RouteDef[]).map((def) => `${def.method} ${fullPathOf(def).replace(/:([A-Za-z_]+)/g, "{$1}")}`).sort();
      const documented = operations()
        .map((o) => `${o.method} ${o.path}`)
        .sort();
      expect(live).toEqual(documented);
    } finally {
      await broker.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
