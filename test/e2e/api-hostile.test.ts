// The REST API against careless and hostile clients, through real HTTP against the real process:
// every row gets the catalogue's precise 4xx, no row gets a 5xx, leaks internals or touches a
// file. Then scopes, idempotent sends, media and the per-key rate limit.
import net from "node:net";
import path from "node:path";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { request } from "../helpers/http";
import { waitFor } from "../helpers/processes";
import { ADMIN, expectCleanError, linkSession, mismatch, startApiNode, treeOf, type ApiNode } from "./api-harness";

const ME = "15550003333";
const CONTACT = "15550004444";
const MEDIA_MAX = 4096;
const BODY_LIMIT = 8192;

let node: ApiNode;
let acmeKey: string;
let acmeKeyId: string;
let betaKey: string;
let revokedKey: string;

const S = "/api/v1/workspaces/acme/sessions";
const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

beforeAll(async () => {
  // LOG_LEVEL debug: the test that no key reaches the output reads everything the process logs
  node = await startApiNode({ API_MEDIA_MAX_BYTES: String(MEDIA_MAX), API_BODY_LIMIT: String(BODY_LIMIT), API_JSON_MAX_DEPTH: "16", LOG_LEVEL: "debug" });
  const mk = async (w: string) => (await node.call("POST", `/api/v1/workspaces/${w}/keys`, { body: { label: `${w} backend` } })).json;
  const a = await mk("acme");
  acmeKey = a.key;
  acmeKeyId = a.keyId;
  betaKey = (await mk("beta")).key;
  const r = await mk("acme");
  revokedKey = r.key;
  expect((await node.call("DELETE", `/api/v1/workspaces/acme/keys/${r.keyId}`)).status).toBe(204);
  await linkSession(node, "acme", "main", ME);
}, 60000);

afterAll(async () => {
  await node?.stop();
});

type Row = [name: string, method: string, path: string, opts: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; key?: string | null }, status: number, code: string];

const long = "x".repeat(65);
const huge = "y".repeat(5000);
const TRAVERSALS = ["..", "%2e%2e", "%2E%2E", ".%2e", "..%2F..%2Fetc", "%2e%2e%2f%2e%2e", "%252e%252e", "..%5C..%5Cwin", "%00", "a%00b", ".", "%C0%AE%C0%AE", long, huge, "%E2%80%AE", "a%20b"];

/** Every id position of every route, with every traversal: 400 VALIDATION_ERROR (admin key). */
function traversalRows(): Row[] {
  const rows: Row[] = [];
  for (const t of TRAVERSALS) {
    rows.push([`workspace ${t.slice(0, 20)} (list)`, "GET", `/api/v1/workspaces/${t}/sessions`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`workspace ${t.slice(0, 20)} (create)`, "POST", `/api/v1/workspaces/${t}/sessions`, { body: { sessionId: "ok" } }, 400, "VALIDATION_ERROR"]);
    rows.push([`session ${t.slice(0, 20)} (get)`, "GET", `${S}/${t}`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`session ${t.slice(0, 20)} (delete)`, "DELETE", `${S}/${t}`, {}, 400, "VALIDATION_ERROR"]);
    for (const verb of ["start", "stop", "restart", "logout"]) rows.push([`session ${t.slice(0, 20)} (${verb})`, "POST", `${S}/${t}/${verb}`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`session ${t.slice(0, 20)} (qr)`, "GET", `${S}/${t}/qr`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`session ${t.slice(0, 20)} (pairing)`, "POST", `${S}/${t}/pairing-code`, { body: { phoneNumber: "15550001111" } }, 400, "VALIDATION_ERROR"]);
    rows.push([`session ${t.slice(0, 20)} (send)`, "POST", `${S}/${t}/messages`, { body: { to: CONTACT, text: "x" } }, 400, "VALIDATION_ERROR"]);
    rows.push([`session ${t.slice(0, 20)} in body`, "POST", S, { body: { sessionId: decodeURIComponentSafe(t) } }, 400, "VALIDATION_ERROR"]);
    rows.push([`key id ${t.slice(0, 20)}`, "DELETE", `/api/v1/workspaces/acme/keys/${t}`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`webhook workspace ${t.slice(0, 20)}`, "GET", `/api/v1/workspaces/${t}/webhook`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`delivery id ${t.slice(0, 20)}`, "POST", `/api/v1/workspaces/acme/webhook/deliveries/${t}/retry`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`move workspace ${t.slice(0, 20)}`, "POST", `/api/v1/workspaces/${t}/move`, { body: { node: "n1" } }, 400, "VALIDATION_ERROR"]);
    rows.push([`compat session ${t.slice(0, 20)}`, "DELETE", `/api/whatsapp/sessions/${t}?workspace_id=acme`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`compat workspace ${t.slice(0, 20)}`, "POST", `/api/whatsapp/sessions/create`, { body: { workspace_id: decodeURIComponentSafe(t) } }, 400, "VALIDATION_ERROR"]);
    rows.push([`group id ${t.slice(0, 20)}`, "GET", `${S}/main/groups/${t}`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`group id ${t.slice(0, 20)}@g.us (participants)`, "POST", `${S}/main/groups/${t}@g.us/participants`, { body: { participants: [CONTACT] } }, 400, "VALIDATION_ERROR"]);
    rows.push([`participant ${t.slice(0, 20)} (promote)`, "POST", `${S}/main/groups/120363000000000001@g.us/participants/${t}/promote`, {}, 400, "VALIDATION_ERROR"]);
    rows.push([`label id ${t.slice(0, 20)}`, "PUT", `${S}/main/chats/${CONTACT}/labels/${t}`, {}, 400, "VALIDATION_ERROR"]);
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(t)) rows.push([`call id ${t.slice(0, 20)}`, "POST", `${S}/main/calls/${t}/reject`, {}, 400, "VALIDATION_ERROR"]);
  }
  // a group's participants: at most 256 per call, each once, people only
  rows.push(["300 participants at once", "POST", `${S}/main/groups/120363000000000001@g.us/participants`, { body: { participants: Array.from({ length: 300 }, (_, i) => String(49152000 + i)) } }, 400, "VALIDATION_ERROR"]);
  rows.push(["a group as a participant", "POST", `${S}/main/groups`, { body: { subject: "x", participants: ["120363000000000001@g.us"] } }, 400, "VALIDATION_ERROR"]);
  rows.push(["an unknown group setting", "PATCH", `${S}/main/groups/120363000000000001@g.us`, { body: { settings: { everyoneIsAdmin: true } } }, 400, "VALIDATION_ERROR"]);
  for (const t of ["a%2Fb", "x".repeat(65), "%00", "a%20b"]) rows.push([`node ${t} (drain)`, "POST", `/api/v1/cluster/nodes/${t}/drain`, {}, 400, "VALIDATION_ERROR"]);
  // node ids may contain dots (NODE_ID allows them); they name no folder, so ".." is merely unknown
  for (const t of ["..", "%2e%2e"]) rows.push([`node ${t} (drain)`, "POST", `/api/v1/cluster/nodes/${t}/drain`, {}, 404, "NODE_NOT_FOUND"]);
  return rows;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const deep = (n: number) => `{"metadata":${"{\"a\":".repeat(n)}1${"}".repeat(n)}}`;

const bodyRows: Row[] = [
  // wrong JSON types
  ["sessionId a number", "POST", S, { body: { sessionId: 5 } }, 400, "VALIDATION_ERROR"],
  ["start a string", "POST", S, { body: { sessionId: "t1", start: "yes" } }, 400, "VALIDATION_ERROR"],
  ["metadata a string", "POST", S, { body: { sessionId: "t1", metadata: "x" } }, 400, "VALIDATION_ERROR"],
  ["accountId an array", "POST", S, { body: { sessionId: "t1", accountId: [] } }, 400, "VALIDATION_ERROR"],
  ["to a number (v1)", "POST", `${S}/main/messages`, { body: { to: 15550004444, text: "x" } }, 400, "VALIDATION_ERROR"],
  ["text an object", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: {} } }, 400, "VALIDATION_ERROR"],
  ["media a string", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: "x" } }, 400, "VALIDATION_ERROR"],
  ["phoneNumber with letters", "POST", `${S}/main/pairing-code`, { body: { phoneNumber: "12ab" } }, 400, "VALIDATION_ERROR"],
  ["body is an array", "POST", S, { rawBody: "[1,2]", headers: { "content-type": "application/json" } }, 400, "VALIDATION_ERROR"],
  ["body is a string", "POST", S, { rawBody: '"s"', headers: { "content-type": "application/json" } }, 400, "VALIDATION_ERROR"],
  ["body is null", "POST", S, { rawBody: "null", headers: { "content-type": "application/json" } }, 400, "VALIDATION_ERROR"],
  ["compat workspace_id a float", "POST", "/api/whatsapp/sessions/create", { body: { workspace_id: 1.5 } }, 400, "VALIDATION_ERROR"],
  ["compat workspace_id negative", "POST", "/api/whatsapp/sessions/create", { body: { workspace_id: -1 } }, 400, "VALIDATION_ERROR"],
  ["compat to a boolean", "POST", "/api/whatsapp/messages/send", { body: { workspace_id: "acme", session_id: "main", to: true, message: "x" } }, 400, "VALIDATION_ERROR"],
  // duplicated keys
  ["duplicated top-level key", "POST", S, { rawBody: '{"sessionId":"a","sessionId":"b"}', headers: { "content-type": "application/json" } }, 400, "JSON_DUPLICATE_KEY"],
  ["duplicated key via escape", "POST", S, { rawBody: '{"sessionId":"a","session\\u0049d":"b"}', headers: { "content-type": "application/json" } }, 400, "JSON_DUPLICATE_KEY"],
  ["duplicated nested key", "POST", S, { rawBody: '{"sessionId":"a","metadata":{"p":1,"p":2}}', headers: { "content-type": "application/json" } }, 400, "JSON_DUPLICATE_KEY"],
  ["duplicated compat key", "POST", "/api/whatsapp/messages/send", { rawBody: '{"workspace_id":"acme","session_id":"main","to":"15550004444","message":"a","to":"15550009999"}', headers: { "content-type": "application/json" } }, 400, "JSON_DUPLICATE_KEY"],
  // nesting and prototype keys
  ["nesting 17 deep", "POST", S, { rawBody: deep(16), headers: { "content-type": "application/json" } }, 400, "JSON_TOO_DEEP"],
  ["nesting 5000 deep", "POST", S, { rawBody: "[".repeat(5000), headers: { "content-type": "application/json" } }, 400, "JSON_TOO_DEEP"],
  ["__proto__ key", "POST", S, { rawBody: '{"sessionId":"p1","__proto__":{"start":false}}', headers: { "content-type": "application/json" } }, 400, "VALIDATION_ERROR"],
  ["constructor key nested", "POST", S, { rawBody: '{"sessionId":"p1","metadata":{"constructor":{"prototype":{}}}}', headers: { "content-type": "application/json" } }, 400, "VALIDATION_ERROR"],
  // unknown fields
  ["unknown field", "POST", S, { body: { sessionId: "u1", admin: true } }, 400, "VALIDATION_ERROR"],
  ["unknown media field", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: PNG_1PX, path: "/etc/passwd" } } }, 400, "VALIDATION_ERROR"],
  ["unknown query field", "GET", `${S}?debug=1`, {}, 400, "VALIDATION_ERROR"],
  ["unknown compat field", "POST", "/api/whatsapp/sessions/create", { body: { workspace_id: "acme", instance: 3 } }, 400, "VALIDATION_ERROR"],
  ["query array for an id", "POST", `${S}?sessionId[]=a`, { body: {} }, 400, "VALIDATION_ERROR"],
  // media
  ["media base64 with bad characters", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: "@@@@" } } }, 400, "VALIDATION_ERROR"],
  ["media base64 unpadded", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: "YWJjZA" } } }, 400, "VALIDATION_ERROR"],
  ["media base64 with a newline", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: "YWJj\nZA==" } } }, 400, "VALIDATION_ERROR"],
  ["media base64 url-safe alphabet", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: "ab-_" } } }, 400, "VALIDATION_ERROR"],
  ["media type not allowed", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "application/x-msdownload", data: PNG_1PX } } }, 400, "VALIDATION_ERROR"],
  ["media over the cap", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: Buffer.alloc(MEDIA_MAX + 1).toString("base64") } } }, 413, "MEDIA_TOO_LARGE"],
  ["media with data and url", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: PNG_1PX, url: "https://example.com/a.png" } } }, 400, "VALIDATION_ERROR"],
  ["media without data or url", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png" } } }, 400, "VALIDATION_ERROR"],
  ["text and media", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x", media: { mimetype: "image/png", data: PNG_1PX } } }, 400, "VALIDATION_ERROR"],
  ["neither text nor media", "POST", `${S}/main/messages`, { body: { to: CONTACT } }, 400, "VALIDATION_ERROR"],
  ["caption without media", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x", caption: "c" } }, 400, "VALIDATION_ERROR"],
  ["filename with a slash", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: PNG_1PX, filename: "../x.png" } } }, 400, "VALIDATION_ERROR"],
  ["media url file://", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "file:///etc/passwd" } } }, 400, "VALIDATION_ERROR"],
  ["media url loopback", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "http://127.0.0.1:9/x.png" } } }, 400, "MEDIA_URL_REFUSED"],
  ["media url cloud metadata", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "http://169.254.169.254/latest/meta-data/" } } }, 400, "MEDIA_URL_REFUSED"],
  ["media url IPv6 loopback", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "http://[::1]:9/x.png" } } }, 400, "MEDIA_URL_REFUSED"],
  ["media url hex loopback", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "http://0x7f.0.0.1:9/x.png" } } }, 400, "MEDIA_URL_REFUSED"],
  ["media url name resolving to loopback", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "http://localhost:9/x.png" } } }, 400, "MEDIA_URL_REFUSED"],
  ["media url with credentials", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", url: "http://u:p@example.com/x.png" } } }, 400, "MEDIA_URL_REFUSED"],
  // sizes, syntax and content types
  ["body over API_BODY_LIMIT", "POST", S, { body: { sessionId: "big", metadata: { blob: "z".repeat(BODY_LIMIT) } } }, 413, "PAYLOAD_TOO_LARGE"],
  ["body over the message limit", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "z".repeat(MEDIA_MAX * 2 + 70 * 1024) } }, 413, "PAYLOAD_TOO_LARGE"],
  ["text over 64 KiB", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "z".repeat(65537) } }, 400, "VALIDATION_ERROR"],
  ["truncated JSON", "POST", S, { rawBody: '{"sessionId":', headers: { "content-type": "application/json" } }, 400, "INVALID_JSON"],
  ["trailing garbage", "POST", S, { rawBody: '{"sessionId":"a"} x', headers: { "content-type": "application/json" } }, 400, "INVALID_JSON"],
  ["not UTF-8", "POST", S, { rawBody: Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), headers: { "content-type": "application/json" } }, 400, "INVALID_JSON"],
  ["single quotes", "POST", S, { rawBody: "{'sessionId':'a'}", headers: { "content-type": "application/json" } }, 400, "INVALID_JSON"],
  ["text/plain body", "POST", S, { rawBody: '{"sessionId":"a"}', headers: { "content-type": "text/plain" } }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["form body", "POST", S, { rawBody: "sessionId=a", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["body without a content type", "POST", S, { rawBody: '{"sessionId":"a"}' }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ["multipart body", "POST", `${S}/main/messages`, { rawBody: "--x\r\n\r\n--x--", headers: { "content-type": "multipart/form-data; boundary=x" } }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  // routes and methods
  ["unknown route", "GET", "/api/v1/nope", {}, 404, "NOT_FOUND"],
  ["unknown root route", "GET", "/etc/passwd", {}, 404, "NOT_FOUND"],
  ["unknown nested route", "POST", `${S}/main/explode`, {}, 404, "NOT_FOUND"],
  ["PUT on sessions", "PUT", S, { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  ["PATCH on a session", "PATCH", `${S}/main`, { body: {} }, 405, "METHOD_NOT_ALLOWED"],
  ["GET on messages", "GET", `${S}/main/messages`, {}, 405, "METHOD_NOT_ALLOWED"],
  ["POST on healthz", "POST", "/healthz", {}, 405, "METHOD_NOT_ALLOWED"],
  ["GET on compat create", "GET", "/api/whatsapp/sessions/create", {}, 405, "METHOD_NOT_ALLOWED"],
  // keys
  ["no key", "GET", S, { key: null }, 401, "UNAUTHORIZED"],
  ["empty bearer", "GET", S, { key: null, headers: { authorization: "Bearer " } }, 401, "UNAUTHORIZED"],
  ["empty X-Api-Key", "GET", S, { key: null, headers: { "x-api-key": "" } }, 401, "UNAUTHORIZED"],
  ["forged admin key", "GET", S, { key: `${ADMIN}x` }, 401, "UNAUTHORIZED"],
  ["admin key prefix", "GET", S, { key: ADMIN.slice(0, -1) }, 401, "UNAUTHORIZED"],
  ["basic auth", "GET", S, { key: null, headers: { authorization: `Basic ${Buffer.from(`x:${ADMIN}`).toString("base64")}` } }, 401, "UNAUTHORIZED"],
  ["forged workspace secret", "GET", S, { key: "wfw_0123456789abcdef_" + "A".repeat(43) }, 401, "UNAUTHORIZED"],
  ["revoked workspace key", "GET", S, { key: "revoked" }, 401, "UNAUTHORIZED"],
  ["8 KB key", "GET", S, { key: "k".repeat(8000) }, 401, "UNAUTHORIZED"],
  ["no key on compat", "POST", "/api/whatsapp/sessions/create", { key: null, body: { workspace_id: "acme" } }, 401, "UNAUTHORIZED"],
  // the WhatsApp surface: ids, cursors, limits, bodies
  ...["abc", "1234", "15550004444@evil.com", "15550004444@c.us@g.us", "status@broadcast", "..%2F15550004444", "%00", huge].flatMap((bad): Row[] => [
    [`chat id ${bad.slice(0, 20)} (get)`, "GET", `${S}/main/chats/${bad}`, {}, 400, "VALIDATION_ERROR"],
    [`chat id ${bad.slice(0, 20)} (messages)`, "GET", `${S}/main/chats/${bad}/messages`, {}, 400, "VALIDATION_ERROR"],
    [`chat id ${bad.slice(0, 20)} (read)`, "POST", `${S}/main/chats/${bad}/read`, {}, 400, "VALIDATION_ERROR"],
    [`contact id ${bad.slice(0, 20)} (get)`, "GET", `${S}/main/contacts/${bad}`, {}, 400, "VALIDATION_ERROR"],
    [`contact id ${bad.slice(0, 20)} (block)`, "POST", `${S}/main/contacts/${bad}/block`, {}, 400, "VALIDATION_ERROR"],
  ]),
  ["a group is no contact", "GET", `${S}/main/contacts/120363000000000001@g.us`, {}, 400, "VALIDATION_ERROR"],
  ["message id with a space", "GET", `${S}/main/messages/a%20b`, {}, 400, "VALIDATION_ERROR"],
  ["message id of 300 characters", "GET", `${S}/main/messages/${"m".repeat(300)}`, {}, 400, "VALIDATION_ERROR"],
  ["limit 0", "GET", `${S}/main/chats?limit=0`, {}, 400, "VALIDATION_ERROR"],
  ["limit 101", "GET", `${S}/main/chats?limit=101`, {}, 400, "VALIDATION_ERROR"],
  ["limit not a number", "GET", `${S}/main/contacts?limit=ten`, {}, 400, "VALIDATION_ERROR"],
  ["offset paging", "GET", `${S}/main/chats?offset=100`, {}, 400, "VALIDATION_ERROR"],
  ["forged cursor", "GET", `${S}/main/chats?cursor=MTIz.AAAAAAAAAAAAAAAAAAAAAA`, {}, 400, "INVALID_CURSOR"],
  ["cursor without a signature", "GET", `${S}/main/chats/${CONTACT}/messages?cursor=MTIz`, {}, 400, "INVALID_CURSOR"],
  ["cursor of 600 characters", "GET", `${S}/main/contacts?cursor=${"c".repeat(600)}`, {}, 400, "VALIDATION_ERROR"],
  ["since in the far future", "GET", `${S}/main/chats/${CONTACT}/messages?since=1e12`, {}, 400, "VALIDATION_ERROR"],
  ["fromMe not a boolean", "GET", `${S}/main/chats/${CONTACT}/messages?fromMe=maybe`, {}, 400, "VALIDATION_ERROR"],
  ["presence state unknown", "POST", `${S}/main/chats/${CONTACT}/presence`, { body: { state: "online" } }, 400, "VALIDATION_ERROR"],
  ["reaction of text", "PUT", `${S}/main/messages/abc/reaction`, { body: { emoji: "lol" } }, 400, "VALIDATION_ERROR"],
  ["reaction too long", "PUT", `${S}/main/messages/abc/reaction`, { body: { emoji: "👍".repeat(20) } }, 400, "VALIDATION_ERROR"],
  ["edit without text", "PATCH", `${S}/main/messages/abc`, { body: {} }, 400, "VALIDATION_ERROR"],
  ["delete for someone", "DELETE", `${S}/main/messages/abc?for=them`, {}, 400, "VALIDATION_ERROR"],
  ["check 101 phones", "POST", `${S}/main/contacts/check`, { body: { phones: Array.from({ length: 101 }, (_, i) => String(15550010000 + i)) } }, 400, "VALIDATION_ERROR"],
  ["check no phones", "POST", `${S}/main/contacts/check`, { body: { phones: [] } }, 400, "VALIDATION_ERROR"],
  ["check a chat id", "POST", `${S}/main/contacts/check`, { body: { phones: ["15550004444@c.us"] } }, 400, "VALIDATION_ERROR"],
  ["mention a group", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x", mentions: ["120363000000000001@g.us"] } }, 400, "VALIDATION_ERROR"],
  ["poll with one option", "POST", `${S}/main/messages`, { body: { to: CONTACT, poll: { name: "p", options: ["a"] } } }, 400, "VALIDATION_ERROR"],
  ["poll with repeated options", "POST", `${S}/main/messages`, { body: { to: CONTACT, poll: { name: "p", options: ["a", "a"] } } }, 400, "VALIDATION_ERROR"],
  ["location off the globe", "POST", `${S}/main/messages`, { body: { to: CONTACT, location: { latitude: 91, longitude: 0 } } }, 400, "VALIDATION_ERROR"],
  ["vcard that is not one", "POST", `${S}/main/messages`, { body: { to: CONTACT, contact: { vcard: "<script>alert(1)</script>xxxxxxxx" } } }, 400, "VALIDATION_ERROR"],
  ["text and location at once", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x", location: { latitude: 1, longitude: 1 } } }, 400, "VALIDATION_ERROR"],
  ["link preview on media", "POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: PNG_1PX }, linkPreview: true } }, 400, "VALIDATION_ERROR"],
  ["reply to an unknown message", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x", replyTo: "NOSUCHMESSAGE" } }, 400, "VALIDATION_ERROR"],
  // idempotency header
  ["Idempotency-Key with spaces", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x" }, headers: { "idempotency-key": "a b" } }, 400, "VALIDATION_ERROR"],
  ["Idempotency-Key of 256 characters", "POST", `${S}/main/messages`, { body: { to: CONTACT, text: "x" }, headers: { "idempotency-key": "k".repeat(256) } }, 400, "VALIDATION_ERROR"],
];

/** A workspace key outside its workspace: 403 FORBIDDEN_WORKSPACE, the same for existing and missing workspaces. */
const scopeRows = (): Row[] => {
  const rows: Row[] = [];
  for (const w of ["beta", "ghost-workspace"]) {
    const B = `/api/v1/workspaces/${w}`;
    rows.push(
      [`${w}: list`, "GET", `${B}/sessions`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: create`, "POST", `${B}/sessions`, { key: "acme", body: { sessionId: "x" } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: get`, "GET", `${B}/sessions/main`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: delete`, "DELETE", `${B}/sessions/main`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: send`, "POST", `${B}/sessions/main/messages`, { key: "acme", body: { to: CONTACT, text: "x" } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: qr`, "GET", `${B}/sessions/main/qr`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: chats`, "GET", `${B}/sessions/main/chats`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: history`, "GET", `${B}/sessions/main/chats/${CONTACT}/messages`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: reaction`, "PUT", `${B}/sessions/main/messages/abc/reaction`, { key: "acme", body: { emoji: "👍" } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: contacts check`, "POST", `${B}/sessions/main/contacts/check`, { key: "acme", body: { phones: [CONTACT] } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: block`, "POST", `${B}/sessions/main/contacts/${CONTACT}/block`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: webhook`, "PUT", `${B}/webhook`, { key: "acme", body: { url: "https://example.com/h" } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: events`, "GET", `${B}/events`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: compat create`, "POST", "/api/whatsapp/sessions/create", { key: "acme", body: { workspace_id: w } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: compat send`, "POST", "/api/whatsapp/messages/send", { key: "acme", body: { workspace_id: w, session_id: "main", to: CONTACT, message: "x" } }, 403, "FORBIDDEN_WORKSPACE"],
      [`${w}: compat delete`, "DELETE", `/api/whatsapp/sessions/main?workspace_id=${w}`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
    );
  }
  rows.push(
    ["body workspaceId cannot widen the path's", "GET", `/api/v1/workspaces/beta/sessions?workspaceId=acme`, { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
    ["workspace key: create keys", "POST", "/api/v1/workspaces/acme/keys", { key: "acme" }, 403, "FORBIDDEN"],
    ["workspace key: list keys", "GET", "/api/v1/workspaces/acme/keys", { key: "acme" }, 403, "FORBIDDEN"],
    ["workspace key: revoke its own key", "DELETE", `/api/v1/workspaces/acme/keys/0123456789abcdef`, { key: "acme" }, 403, "FORBIDDEN"],
    ["workspace key: cluster", "GET", "/api/v1/cluster", { key: "acme" }, 403, "FORBIDDEN"],
    ["workspace key: drain", "POST", "/api/v1/cluster/nodes/n1/drain", { key: "acme" }, 403, "FORBIDDEN"],
    ["workspace key: move its own workspace", "POST", "/api/v1/workspaces/acme/move", { key: "acme", body: { node: "n1" } }, 403, "FORBIDDEN"],
    ["workspace key: traversal elsewhere", "GET", "/api/v1/workspaces/../sessions", { key: "acme" }, 403, "FORBIDDEN_WORKSPACE"],
  );
  return rows;
};

function keyFor(k: string | null | undefined): string | undefined {
  if (k === null) return undefined;
  if (k === undefined) return ADMIN;
  if (k === "acme") return acmeKey;
  if (k === "revoked") return revokedKey;
  return k;
}


function scanPng(png: Buffer): string | undefined {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data;
}

describe("hostile input through HTTP", () => {
  const rows = [...traversalRows(), ...bodyRows, ...scopeRows()];

  it(`answers ${rows.length} hostile requests with the catalogue's 4xx, touching no file`, async () => {
    // The simulated network runs in this process in simulation and persists its own ledger
    // (data/simnet/state.json, debounced, through a temp file) on its own clock: it stands in for
    // WhatsApp's servers, so it is not wafleet's storage and is left out of the comparison.
    const wafleetFiles = async () => (await treeOf(node.root)).filter((p) => !p.startsWith(path.join("data", "simnet")));
    const before = await wafleetFiles();
    const failures: string[] = [];
    for (const [name, method, p, opts, status, code] of rows) {
      const { key, ...rest } = opts;
      const res = await request(node.api, method, p, { ...rest, key: keyFor(key) });
      try {
        expectCleanError(res);
        if (res.status !== status || res.json?.error?.code !== code) throw new Error(`got ${res.status} ${res.body.toString().slice(0, 200)}`);
        if (status === 405 && !res.headers.allow) throw new Error("405 without Allow");
      } catch (err) {
        failures.push(`${name} (${method} ${p.slice(0, 80)}): expected ${status} ${code}; ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    // key creation persisted api-store.json before the sweep; nothing else may have appeared or gone
    expect(await wafleetFiles()).toEqual(before);
    expect(node.proc.running).toBe(true);
  }, 120000);

  it.each([
    ["a Content-Length that is not a number", "POST /api/v1/workspaces/acme/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "MALFORMED_REQUEST"],
    ["two Content-Lengths", "POST /api/v1/workspaces/acme/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "MALFORMED_REQUEST"],
    ["a request line that is not HTTP", "HELLO\r\n\r\n", 400, "MALFORMED_REQUEST"],
    ["64 KB of headers", `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(65536)}\r\n\r\n`, 431, "HEADERS_TOO_LARGE"],
  ])("answers %s with a JSON %i", async (_name, raw, status, code) => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(node.api).port), "127.0.0.1", () => socket.write(raw));
      let data = "";
      socket.on("data", (d) => (data += d.toString()));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(answer.split("\r\n")[0]).toBe(`HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : "Request Header Fields Too Large"}`);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({ error: { code, message: expect.any(String) } });
    expect(node.proc.running).toBe(true);
  });

  it("names the offending field in validation errors", async () => {
    const res = await node.call("POST", S, { body: { sessionId: "ok-1", start: "yes", zz: 1 } });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/start/);
    expect(res.json.error.details.map((d: any) => d.field).sort()).toEqual(["start", "zz"]);
  });

  it("answers a workspace's key the same for a missing and an existing foreign workspace", async () => {
    const a = await request(node.api, "GET", "/api/v1/workspaces/beta/sessions/main", { key: acmeKey });
    const b = await request(node.api, "GET", "/api/v1/workspaces/no-such-ws/sessions/main", { key: acmeKey });
    expect([a.status, b.status]).toEqual([403, 403]);
    expect(a.body.equals(b.body)).toBe(true);
  });

  it("lets a workspace key do everything in its own workspace, and nothing with a revoked one", async () => {
    const list = await request(node.api, "GET", S, { key: acmeKey });
    expect(list.status).toBe(200);
    expect(list.json.map((s: any) => s.sessionId)).toContain("main");
    const sent = await request(node.api, "POST", `${S}/main/messages`, { key: acmeKey, body: { to: CONTACT, text: "from a workspace key" } });
    expect(sent.status).toBe(201);
    expect((await request(node.api, "GET", "/api/v1/workspaces/beta/sessions", { key: betaKey })).status).toBe(200);
    const keys = await node.call("GET", "/api/v1/workspaces/acme/keys");
    expect(keys.json.map((k: any) => k.keyId)).toEqual([acmeKeyId]);
    expect(JSON.stringify(keys.json)).not.toContain(acmeKey.slice(20));
    expect((await node.call("DELETE", `/api/v1/workspaces/beta/keys/${acmeKeyId}`)).json.error.code).toBe("KEY_NOT_FOUND");
  });

  it("never writes a key to its output", () => {
    for (const k of [ADMIN, acmeKey, betaKey, revokedKey]) expect(node.proc.output).not.toContain(k);
  });
});

describe("idempotent verbs", () => {
  const inbox = async () => (await request(node.sim, "GET", `/sim/contacts/${CONTACT}/inbox`)).json.messages as any[];

  it("replays a send with the same Idempotency-Key and body, refuses a changed body, sends once", async () => {
    const text = `idem ${Date.now()}`;
    const headers = { "idempotency-key": `order-${Date.now()}` };
    const first = await node.call("POST", `${S}/main/messages`, { body: { to: CONTACT, text }, headers });
    expect(first.status).toBe(201);
    const doc = (await request(node.api, "GET", "/api/v1/openapi.json")).json;
    expect(mismatch(first.json, doc.paths["/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/messages"].post.responses["201"].content["application/json"].schema, doc)).toBeUndefined();
    const again = await node.call("POST", `${S}/main/messages`, { body: { text, to: CONTACT }, headers });
    expect(again.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.headers.location).toBe(first.headers.location);
    for (const changed of [{ to: CONTACT, text: `${text}!` }, { to: "15550009999", text }, { to: CONTACT, media: { mimetype: "image/png", data: PNG_1PX } }]) {
      const r = await node.call("POST", `${S}/main/messages`, { body: changed, headers });
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    }
    // the same key on another session is another request
    expect((await node.call("POST", `${S}/other/messages`, { body: { to: CONTACT, text }, headers })).json.error.code).toBe("SESSION_NOT_FOUND");
    await waitFor("delivery", async () => (await inbox()).some((m) => m.body === text));
    expect((await inbox()).filter((m) => m.body === text)).toHaveLength(1);
    expect((await request(node.sim, "GET", "/sim/ledger")).json.outgoing.filter((m: any) => m.body === text)).toHaveLength(1);
  });

  it("sends once when many requests with one key arrive together", async () => {
    const text = `race ${Date.now()}`;
    const headers = { "idempotency-key": `race-${Date.now()}` };
    const results = await Promise.all(Array.from({ length: 12 }, () => node.call("POST", `${S}/main/messages`, { body: { to: CONTACT, text }, headers })));
    const ok = results.filter((r) => r.status === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.json.id)).size).toBe(1);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.json.error.code).toBe("IDEMPOTENCY_KEY_IN_USE");
      expect(r.headers["retry-after"]).toBe("1");
    }
    await waitFor("delivery", async () => (await inbox()).some((m) => m.body === text));
    expect((await request(node.sim, "GET", "/sim/ledger")).json.outgoing.filter((m: any) => m.body === text)).toHaveLength(1);
  });

  it("lets a failed send be retried with the same key", async () => {
    const headers = { "idempotency-key": `fail-${Date.now()}` };
    const created = await node.call("POST", S, { body: { sessionId: "cold", start: false } });
    expect(created.status).toBe(201);
    const notReady = await node.call("POST", `${S}/cold/messages`, { body: { to: CONTACT, text: "later" }, headers });
    expect(notReady.json.error.code).toBe("SESSION_NOT_READY");
    const again = await node.call("POST", `${S}/cold/messages`, { body: { to: CONTACT, text: "later" }, headers });
    expect(again.json.error.code).toBe("SESSION_NOT_READY");
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("shows the QR three ways, gives a pairing code to a session waiting to be linked, and restarts a session", async () => {
    expect((await node.call("POST", S, { body: { sessionId: "pair" } })).status).toBe(201);
    await waitFor("SCAN_QR_CODE", async () => (await node.call("GET", `${S}/pair`)).json.status === "SCAN_QR_CODE");
    const png = await node.call("GET", `${S}/pair/qr`);
    expect(png.headers["content-type"]).toBe("image/png");
    const qr = await node.call("GET", `${S}/pair/qr`, { headers: { accept: "application/json" } });
    expect(qr.json).toMatchObject({ qr: expect.any(String), expiresAt: expect.any(Number), image: expect.stringMatching(/^data:image\/png;base64,iVBORw0KGgo/) });
    // both images scan (an independent PNG decoder and QR reader); the JSON one shows its own value
    expect(scanPng(Buffer.from(qr.json.image.slice("data:image/png;base64,".length), "base64"))).toBe(qr.json.qr);
    expect(scanPng(png.body)).toEqual(expect.stringMatching(/^2@[A-Za-z0-9+/=]+,/));
    const code = await node.call("POST", `${S}/pair/pairing-code`, { body: { phoneNumber: "+15550007777" } });
    expect(code.status).toBe(200);
    expect(code.json.code).toEqual(expect.any(String));
    // the network no longer takes the old QR: neither view shows it, and the answer says why
    for (const accept of ["application/json", "image/png"]) {
      const after = await node.call("GET", `${S}/pair/qr`, { headers: { accept } });
      expect([after.status, after.json?.error?.code, after.json?.error?.details?.reason]).toEqual([409, "QR_NOT_AVAILABLE", "PAIRING_CODE_PENDING"]);
    }
    expect((await request(node.sim, "POST", "/sim/link", { body: { qr: qr.json.qr, phone: "15550007777" } })).status).not.toBe(200);
    // the code links it
    expect((await request(node.sim, "POST", "/sim/link", { body: { code: code.json.code, phone: "15550007777" } })).status).toBe(200);
    await waitFor("WORKING by pairing code", async () => (await node.call("GET", `${S}/pair`)).json.status === "WORKING");
    expect((await node.call("POST", `${S}/main/pairing-code`, { body: { phoneNumber: "15550007777" } })).json.error.code).toBe("QR_NOT_AVAILABLE");
    const restarted = await node.call("POST", `${S}/pair/restart`);
    expect(restarted.status).toBe(200);
    expect(restarted.json).toMatchObject({ sessionId: "pair", desired: "running" });
    expect((await node.call("DELETE", `${S}/pair`)).status).toBe(204);
  });

  it("starts, stops and deletes idempotently", async () => {
    expect((await node.call("POST", `${S}/cold/stop`)).status).toBe(200);
    expect((await node.call("POST", `${S}/cold/stop`)).json).toMatchObject({ desired: "stopped" });
    const s1 = await node.call("POST", `${S}/cold/start`);
    const s2 = await node.call("POST", `${S}/cold/start`);
    expect([s1.status, s2.status]).toEqual([200, 200]);
    expect(s2.json.desired).toBe("running");
    expect((await node.call("DELETE", `${S}/cold`)).status).toBe(204);
    expect((await node.call("DELETE", `${S}/cold`)).status).toBe(204);
    expect((await node.call("GET", `${S}/cold`)).status).toBe(404);
  });
});

describe("media messages", () => {
  it("sends inline base64 media with a caption and filename", async () => {
    const caption = `pic ${Date.now()}`;
    const sent = await node.call("POST", `${S}/main/messages`, { body: { to: CONTACT, media: { mimetype: "image/png", data: PNG_1PX, filename: "dot.png" }, caption } });
    expect(sent.status).toBe(201);
    const got = await waitFor("media delivery", async () => ((await request(node.sim, "GET", `/sim/contacts/${CONTACT}/inbox`)).json.messages as any[]).find((m) => m.id === sent.json.id));
    expect(got.media).toMatchObject({ mimetype: "image/png", data: PNG_1PX, filename: "dot.png" });
  });
});

describe("per-key rate limit", () => {
  let limited: ApiNode;
  beforeAll(async () => {
    limited = await startApiNode({ API_RATE_LIMIT: "5", API_RATE_WINDOW_MS: "3600000" });
  }, 30000);
  afterAll(async () => {
    await limited?.stop();
  });

  it("answers 429 with Retry-After past the limit, per key", async () => {
    // the admin key's first request of the window: a workspace key, which has a budget of its own
    const wsKey = (await limited.call("POST", "/api/v1/workspaces/acme/keys")).json.key;
    const statuses: number[] = [];
    let refused: any;
    for (let i = 0; i < 6; i++) {
      const r = await limited.call("GET", "/api/v1/workspaces/acme/sessions");
      statuses.push(r.status);
      if (r.status === 429) refused ??= r;
      else expect(Number(r.headers["ratelimit-remaining"])).toBe(3 - i);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expectCleanError(refused);
    expect(refused.json.error.code).toBe("RATE_LIMITED");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(3600);
    const own = await request(limited.api, "GET", "/api/v1/workspaces/acme/sessions", { key: wsKey });
    expect(own.status).toBe(200);
    expect(own.headers["ratelimit-remaining"]).toBe("4");
  });
});

describe("failed authentications per client address", () => {
  let node: ApiNode;
  let proxied: ApiNode;
  beforeAll(async () => {
    [node, proxied] = await Promise.all([
      startApiNode({ API_AUTH_FAILURE_LIMIT: "5", API_RATE_WINDOW_MS: "3600000" }),
      // behind one proxy (an ingress): the last X-Forwarded-For entry is the client
      startApiNode({ API_AUTH_FAILURE_LIMIT: "2", API_RATE_WINDOW_MS: "3600000", API_TRUSTED_PROXY_HOPS: "1" }),
    ]);
  }, 30000);
  afterAll(async () => {
    await Promise.all([node?.stop(), proxied?.stop()]);
  });
  const get = (n: ApiNode, key: string | undefined, headers: Record<string, string> = {}) => request(n.api, "GET", "/api/v1/workspaces/acme/sessions", { key, headers });

  it("refuses an address with 429 after too many failures, before looking at its key, and ignores X-Forwarded-For without a trusted proxy", async () => {
    const statuses: number[] = [];
    for (const key of ["wrong-1", "wrong-2", undefined, "wrong-3", undefined]) statuses.push((await get(node, key)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const refused = await get(node, "wrong-4");
    expect(refused.status).toBe(429);
    expectCleanError(refused);
    expect(refused.json.error).toMatchObject({ code: "RATE_LIMITED", message: expect.stringMatching(/failed authentications from this address/) });
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(3600);
    // the address is refused whatever it presents, and a forged header does not change who it is
    expect((await get(node, ADMIN)).status).toBe(429);
    expect((await get(node, ADMIN, { "x-forwarded-for": "203.0.113.50" })).status).toBe(429);
  });

  it("behind a trusted proxy, counts each client apart and never believes entries a client wrote", async () => {
    const client = { "x-forwarded-for": "203.0.113.7" };
    expect((await get(proxied, "wrong", client)).status).toBe(401);
    expect((await get(proxied, "wrong", client)).status).toBe(401);
    expect((await get(proxied, ADMIN, client)).status).toBe(429);
    // a client prepending an address of its own is still the address the proxy appended
    expect((await get(proxied, ADMIN, { "x-forwarded-for": "198.51.100.1, 203.0.113.7" })).status).toBe(429);
    // another client behind the same proxy is fine, and so is a request whose header is garbage
    // (the proxy's own address, which has no failures, stands in)
    expect((await get(proxied, ADMIN, { "x-forwarded-for": "203.0.113.8" })).status).toBe(200);
    expect((await get(proxied, ADMIN, { "x-forwarded-for": "not-an-address" })).status).toBe(200);
  });
});

