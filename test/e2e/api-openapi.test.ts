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
import { ADMIN, linkSession, mismatch, startApiNode, validateOpenApi, type ApiNode } from "./api-harness";
import { waitFor } from "../helpers/processes";

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

  it("holds a linked session's chats, history and reaction answers against their schemas", async () => {
    const ME = "15550007001";
    const CONTACT = "15550007002";
    await linkSession(node, "acme", "chatty", ME);
    expect((await request(node.sim, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: ME, body: "hello schema" } })).status).toBe(202);
    const S = "/api/v1/workspaces/acme/sessions/chatty";
    const chatId = `${CONTACT}@c.us`;
    const page = await waitFor("the chat", async () => {
      const r = await node.call("GET", `${S}/chats/${chatId}/messages`);
      return r.status === 200 && r.json.items.length ? r : undefined;
    });
    const sent = await node.call("POST", `${S}/messages`, { body: { to: CONTACT, text: "a reply", replyTo: page.json.items[0].id } });
    expect(sent.status).toBe(201);
    const probes: Array<[string, string, string, unknown?]> = [
      ["GET", `${S}`, "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}"],
      ["GET", `${S}/chats?limit=1`, "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/chats"],
      ["GET", `${S}/chats/${chatId}`, "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/chats/{chatId}"],
      ["GET", `${S}/chats/${chatId}/messages?limit=5`, "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/chats/{chatId}/messages"],
      ["PUT", `${S}/messages/${page.json.items[0].id}/reaction`, "/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/messages/{messageId}/reaction", { emoji: "👍" }],
    ];
    const misfits: string[] = [];
    for (const [method, url, documented, body] of probes) {
      const res = await node.call(method, url, { body });
      expect(res.status).toBe(200);
      const schema = doc.paths[documented][method.toLowerCase()].responses["200"].content["application/json"].schema;
      const m = mismatch(res.json, schema, doc);
      if (m) misfits.push(`${method} ${url}: ${m}`);
    }
    expect(misfits).toEqual([]);
    // the answers carry what the schemas promise, not just any object
    const session = (await node.call("GET", S)).json;
    expect(session.capabilities).toEqual(expect.arrayContaining(["chats", "history", "reactions", "replies"]));
    const history = (await node.call("GET", `${S}/chats/${chatId}/messages`)).json.items;
    expect(history.find((m: any) => m.body === "a reply")).toMatchObject({ fromMe: true, replyTo: page.json.items[0].id });
    expect(history.find((m: any) => m.body === "hello schema").reactions).toEqual([{ from: `${ME}@c.us`, emoji: "👍" }]);
  });

  /** The routes and served document of a gateway built in this process (against the simulated network or not). */
  async function gateway(simUrl: string): Promise<{ live: string[]; documented: string[]; me: any; scan: { status: number; code?: string } }> {
    const dir = await tempDir("openapi-live");
    const config = loadConfig({ API_PORT: "0", API_HOST: "127.0.0.1", DATA_DIR: dir, API_KEYS: ADMIN });
    const broker = new ServiceBroker({ logger: false, nodeID: "openapi-check" });
    const svc: any = broker.createService(apiService({ config, keys: { hashes: [Buffer.from(sha256Hex(ADMIN), "hex")] }, simUrl }));
    await broker.start();
    try {
      const served: any = await broker.call("api.openapi");
      const base = `http://127.0.0.1:${svc.server.address().port}`;
      const me = (await request(base, "GET", "/api/v1/me", { key: ADMIN })).json;
      const scanned = await request(base, "POST", "/api/v1/workspaces/acme/sessions/main/simulated-scan", { key: ADMIN, body: {} });
      return {
        me,
        scan: { status: scanned.status, code: scanned.json?.error?.code },
        live: (svc.pipeline.routes as RouteDef[]).map((def) => `${def.method} ${fullPathOf(def).replace(/:([A-Za-z_]+)/g, "{$1}")}`).sort(),
        documented: Object.entries(served.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort(),
      };
    } finally {
      await broker.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  it("documents every route the gateway's pipeline serves", async () => {
    // the process above runs the embedded simulated network, as this gateway does
    const { live } = await gateway(node.sim);
    const documented = operations()
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(live).toEqual(documented);
    expect(live).toContain("POST /api/v1/workspaces/{workspaceId}/sessions/{sessionId}/simulated-scan");
  });

  it("has no simulation-only route, in its pipeline or its document, outside simulation", async () => {
    const { live, documented, me, scan } = await gateway("");
    expect(live).toEqual(documented);
    expect(live.filter((r) => r.includes("simulated"))).toEqual([]);
    expect(live).toContain("GET /api/v1/me");
    expect(me).toMatchObject({ kind: "admin", workspaceId: null, simulation: false });
    expect(scan).toEqual({ status: 404, code: "NOT_FOUND" });
  });
});
