// Property-based fuzzing of the REST API through real HTTP: thousands of random requests built from
// the route table (random methods, hostile ids, random bodies, content types, keys and headers).
// Whatever arrives: no 5xx, every error is a clean catalogue error, the process stays up, and no
// file appears outside SESSIONS_DIR (inside it, only workspace_<id>/session_<id> folders).
import path from "node:path";
import fc from "fast-check";
import { ROUTES } from "../../lib/api/routes";
import { fullPathOf } from "../../lib/api/routes";
import { request } from "../helpers/http";
import { ADMIN, expectCleanError, startApiNode, treeOf, type ApiNode } from "./api-harness";

const RUNS = 3000;

let node: ApiNode;
let acmeKey: string;
let webhooksAbsent = false;

beforeAll(async () => {
  node = await startApiNode();
  acmeKey = (await node.call("POST", "/api/v1/workspaces/acme/keys")).json.key;
  // a process without the webhooks role answers its routes 503 SERVICE_UNAVAILABLE (truthfully)
  const probe = await node.call("GET", "/api/v1/workspaces/acme/webhook");
  webhooksAbsent = probe.status === 503 && probe.json?.error?.code === "SERVICE_UNAVAILABLE";
}, 60000);

afterAll(async () => {
  await node?.stop();
});

const pct = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
const printable = (min: number, max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("acme", "main", "beta", "ghost", "s1", "0123456789abcdef", "15550001111") },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/) },
  { weight: 3, arbitrary: fc.constantFrom("..", "%2e%2e", "%2E%2e%2f..", ".", "..%2F..%2Ftmp", "%252e%252e", "%00", "a%00", "%C0%AE%C0%AE", "x".repeat(65), "y".repeat(3000), "%E2%80%AE", "..%5C..") },
  { weight: 2, arbitrary: printable(1, 20).map(encodeURIComponent) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map(pct) },
);

const routeArb = fc.constantFrom(...ROUTES.filter((r) => r.render !== "sse"));
const pathArb = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(routeArb, fc.array(idArb, { minLength: 4, maxLength: 4 })).map(([r, ids]) => ({ route: r, path: fullPathOf(r).replace(/:[A-Za-z_]+/g, () => ids.shift()!) })) },
  { weight: 1, arbitrary: fc.array(idArb, { minLength: 0, maxLength: 6 }).map((segs) => ({ route: undefined, path: `/api/v1/${segs.join("/")}` })) },
  { weight: 1, arbitrary: fc.array(idArb, { minLength: 0, maxLength: 4 }).map((segs) => ({ route: undefined, path: `/${segs.join("/")}` })) },
);

const queryArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant("") },
  { weight: 2, arbitrary: fc.dictionary(fc.constantFrom("workspaceId", "sessionId", "status", "limit", "types", "workspace_id", "x", "__proto__", "a[b][c]"), printable(0, 10), { maxKeys: 3 }).map((d) => `?${new URLSearchParams(d)}`) },
  { weight: 1, arbitrary: fc.constantFrom("?a[b][c][d][e][f][g]=1", "?__proto__[admin]=1", "?constructor[prototype][x]=1", "?status=failed&status=pending", "?limit=-1", "?%zz=1", "?types=wa.session.qr,nope") },
);

const FIELDS = ["sessionId", "workspaceId", "accountId", "start", "metadata", "to", "text", "media", "caption", "phoneNumber", "url", "events", "secret", "headers", "node", "label", "workspace_id", "session_id", "account_id", "message", "id", "__proto__", "constructor"];
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  idArb,
  fc.constantFrom("15550004444", "15550004444@c.us", "https://example.com/hook", "http://127.0.0.1:1/x.png"),
  fc.record({ mimetype: fc.constantFrom("image/png", "application/x-sh", ""), data: fc.oneof(fc.base64String({ maxLength: 64 }), printable(0, 20)), url: fc.constantFrom("http://10.0.0.1/a.png", "file:///etc/passwd", "http://[::1]/x") }, { requiredKeys: [] }),
);

const bodyArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 5, arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), fieldValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: printable(0, 60) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }).map((n) => `{"a":${"[".repeat(n)}${"]".repeat(n)}}`) },
  { weight: 1, arbitrary: fc.constantFrom('{"sessionId":"a","sessionId":"b"}', '{"to":"1","to":"2","text":"x"}', "{", '{"a":1}}', "\uFEFF{}", "[]", "null", '{"__proto__":{"x":1}}') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
);

const headerValue = fc.oneof(printable(0, 40), fc.string({ unit: fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 10 }));

const requestArb = fc.record({
  target: pathArb,
  query: queryArb,
  methodPick: fc.oneof({ weight: 12, arbitrary: fc.constant("route") }, { weight: 4, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS") }),
  body: bodyArb,
  contentType: fc.constantFrom("application/json", "application/json", "application/json", "application/json", "application/json; charset=utf-8", "application/problem+json", "text/plain", "multipart/form-data; boundary=x", undefined),
  auth: fc.constantFrom("admin", "admin", "admin", "admin", "acme", "acme", "none", "forged", "forgedWorkspace", "xapikey", "basic"),
  idempotencyKey: fc.option(headerValue, { nil: undefined }),
  requestId: fc.option(headerValue, { nil: undefined }),
  accept: fc.constantFrom(undefined, "application/json", "image/png", "*/*"),
});

function authHeaders(auth: string): Record<string, string> {
  switch (auth) {
    case "admin":
      return { authorization: `Bearer ${ADMIN}` };
    case "acme":
      return { authorization: `Bearer ${acmeKey}` };
    case "forged":
      return { authorization: `Bearer ${ADMIN.slice(0, -2)}zz` };
    case "forgedWorkspace":
      return { authorization: `Bearer ${acmeKey.slice(0, -3)}zzz` };
    case "xapikey":
      return { "x-api-key": ADMIN };
    case "basic":
      return { authorization: "Basic YTpi" };
    default:
      return {};
  }
}

describe("fuzzing the REST API", () => {
  it(`survives ${RUNS} random requests: no 5xx, clean errors, no file outside SESSIONS_DIR`, async () => {
    const outsideBefore = (await treeOf(node.root)).filter((p) => !p.startsWith(path.join("data", "sessions")));
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const method = r.methodPick === "route" ? (r.target.route?.method ?? "GET") : r.methodPick;
        const headers: Record<string, string> = { ...authHeaders(r.auth) };
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
        if (r.requestId !== undefined) headers["x-request-id"] = r.requestId;
        if (r.accept) headers.accept = r.accept;
        const res = await request(node.api, method, `${r.target.path}${r.query}`, { headers, rawBody: r.body });
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        const absentService = webhooksAbsent && r.target.route?.action.startsWith("webhooks.") && res.status === 503 && res.json?.error?.code === "SERVICE_UNAVAILABLE";
        if (res.status >= 500 && !absentService) throw new Error(`${method} ${r.target.path}${r.query} -> ${res.status} ${res.body.toString().slice(0, 300)}`);
        if (method !== "HEAD") expectCleanError(res);
        if (!node.proc.running) throw new Error(`the process died:\n${node.proc.output.slice(-2000)}`);
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
    expect(node.proc.running).toBe(true);
    // outside SESSIONS_DIR: only what was there, plus the key store the admin's random key creations write
    const outsideAfter = (await treeOf(node.root)).filter((p) => !p.startsWith(path.join("data", "sessions")));
    // (and snapshots the admin's random POST /backups take, in the backup target: their names are checked)
    const backups = path.join("data", "backups");
    const snapshotFile = /^data\/backups(\/snapshots(\/\d{8}T\d{9}Z-[0-9a-f]{4}(\/(manifest\.json|verified\.json|workspace_[A-Za-z0-9_-]{1,64}\.tar\.gz))?)?)?$/;
    for (const p of outsideAfter.filter((x) => x.startsWith(backups))) expect(p).toMatch(snapshotFile);
    // (and the media store, where random valid uploads land: workspace folders, ULID objects, their
    // descriptors and session markers, every name from a validated id)
    const media = path.join("data", "media");
    const mediaFile = /^data\/media(\/workspace_[A-Za-z0-9_-]{1,64}(\/(session_[A-Za-z0-9_-]{1,64}(\/[0-9A-HJKMNP-TV-Z]{26})?|[0-9A-HJKMNP-TV-Z]{26}(\.json)?))?)?$/;
    for (const p of outsideAfter.filter((x) => x.startsWith(media))) expect(p).toMatch(mediaFile);
    expect(outsideAfter.filter((p) => !outsideBefore.includes(p) && p !== path.join("data", "api-store.json") && !p.startsWith(backups) && !p.startsWith(media))).toEqual([]);
    // inside: workspace_<id>/session_<id>/... with ids of the allowed alphabet only
    for (const p of await treeOf(node.sessionsDir)) {
      const [w, s] = p.split(path.sep);
      expect(w).toMatch(/^workspace_[A-Za-z0-9_-]{1,64}$/);
      if (s !== undefined) expect(s).toMatch(/^session_[A-Za-z0-9_-]{1,64}$|^\.?[a-z]/);
    }
    process.stdout.write(`fuzz statuses: ${JSON.stringify(Object.fromEntries(seen))}\n`);
    // the run exercised successes and refusals alike
    const statuses = [...seen.keys()];
    expect(statuses.some((s) => s < 300)).toBe(true);
    expect(statuses.filter((s) => s >= 400).length).toBeGreaterThan(3);
  }, 180000);
});
