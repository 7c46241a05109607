// The network's admin API (`/sim/*`, JSON in and out): how tests and people act as phones and
// contacts, inject faults and read the oracle. Validates input here; the network gets clean values.
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseMedia } from "./media";
import { parseMessageFields } from "./message-fields";
import type { SimNetwork } from "./network";
import { parsePhone } from "../whatsapp";
import { SIM_RESTRICTIONS, type SimFaults, type SimRestriction } from "./protocol";
import { SimError } from "./sim-error";

const MAX_BODY_BYTES = 1024 * 1024;
/** Media each way is up to 64 MiB, as WhatsApp's; a JSON body carries it as base64 (4/3). */
export const MAX_MEDIA_BYTES = 64 * 1024 * 1024;
const MAX_MEDIA_JSON_BYTES = Math.ceil(MAX_MEDIA_BYTES / 3) * 4 + 1024 * 1024;
const MAX_LATENCY_MS = 60_000;

type Body = Record<string, unknown>;
interface Route {
  method: "GET" | "POST";
  path: RegExp;
  /** "json" (default): a JSON object up to maxBytes; "raw": the bytes themselves, with the query and headers. */
  body?: "json" | "raw";
  /** The largest body (default 1 MiB). */
  maxBytes?: number;
  /** Returns [status, json]; throws SimError for 4xx. */
  handle(network: SimNetwork, params: string[], body: Body, raw?: RawBody): [number, unknown] | Promise<[number, unknown]>;
}

interface RawBody {
  bytes: Buffer;
  query: URLSearchParams;
  contentType: string;
}

const ROUTES: Route[] = [
  { method: "GET", path: /^\/sim\/health$/, handle: () => [200, { ok: true }] },
  { method: "GET", path: /^\/sim\/stats$/, handle: (n) => [200, n.stats()] },
  { method: "GET", path: /^\/sim\/ledger$/, handle: (n) => [200, n.ledgerView()] },
  { method: "GET", path: /^\/sim\/qr$/, handle: (n) => [200, { qrs: n.qrs() }] },
  { method: "GET", path: /^\/sim\/faults$/, handle: (n) => [200, n.getFaults()] },
  { method: "POST", path: /^\/sim\/faults$/, handle: (n, _p, body) => [200, n.setFaults(parseFaults(body))] },
  {
    method: "POST",
    path: /^\/sim\/reset$/,
    handle: (n) => {
      n.reset();
      return [200, { ok: true }];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/link$/,
    handle: (n, _p, body) => {
      const phone = requirePhone(body.phone, "phone");
      if (typeof body.qr === "string" && body.qr) return n.link({ qr: body.qr, phone }).then((me) => [200, { me }]);
      if (typeof body.code === "string" && body.code) return n.link({ code: body.code, phone }).then((me) => [200, { me }]);
      throw new SimError("VALIDATION_ERROR", "qr (the scanned QR string) or code (a pairing code) is required", "qr");
    },
  },
  {
    method: "POST",
    path: /^\/sim\/unlink$/,
    handle: (n, _p, body) => {
      n.unlink(requirePhone(body.phone, "phone"));
      return [200, { ok: true }];
    },
  },
  {
    // a contact sends media as raw bytes (Content-Type = its mimetype; ?to=&body=&filename=): no
    // base64 on the way in, the body read once
    method: "POST",
    path: /^\/sim\/contacts\/([^/]+)\/send-media$/,
    body: "raw",
    maxBytes: MAX_MEDIA_BYTES,
    handle: (n, [contact], _body, raw) => {
      const from = requirePhone(contact, "contact");
      const to = requirePhone(raw!.query.get("to") ?? undefined, "to");
      const mimetype = raw!.contentType.split(";")[0]!.trim().toLowerCase();
      if (!/^[a-z]+\/[a-z0-9.+-]+$/.test(mimetype)) throw new SimError("VALIDATION_ERROR", "Content-Type must be the media's mimetype", "mimetype");
      if (!raw!.bytes.length) throw new SimError("VALIDATION_ERROR", "the body is the media's bytes", "body");
      const filename = raw!.query.get("filename") ?? undefined;
      const media = { mimetype, data: raw!.bytes.toString("base64"), ...(filename ? { filename } : {}) };
      return [202, n.contactSend(from, { to, body: raw!.query.get("body") ?? "", media })];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/contacts\/([^/]+)\/send$/,
    maxBytes: MAX_MEDIA_JSON_BYTES,
    handle: (n, [contact], body) => {
      const from = requirePhone(contact, "contact");
      const to = requirePhone(body.to, "to");
      if (typeof body.body !== "string") throw new SimError("VALIDATION_ERROR", "body must be a string", "body");
      const media = body.media === undefined ? undefined : parseMedia(body.media);
      if (body.media !== undefined && !media) throw new SimError("VALIDATION_ERROR", "media needs mimetype and base64 data (filename optional)", "media");
      return [202, n.contactSend(from, { to, body: body.body, media, fields: parseMessageFields(body) })];
    },
  },
  // a contact acts on a message of its chat with an account
  {
    method: "POST",
    path: /^\/sim\/contacts\/([^/]+)\/(react|edit|revoke|vote)$/,
    handle: (n, [contact, act], body) => {
      const to = requirePhone(body.to, "to");
      const messageId = requireString(body.messageId, "messageId");
      if (act === "react") {
        if (typeof body.emoji !== "string" || body.emoji.length > 32) throw new SimError("VALIDATION_ERROR", "emoji must be a string (\"\" removes the reaction)", "emoji");
        return [200, { message: n.contactAct(contact, { to, messageId, act, emoji: body.emoji }) }];
      }
      if (act === "edit") return [200, { message: n.contactAct(contact, { to, messageId, act, body: requireString(body.body, "body") }) }];
      if (act === "vote") {
        if (!Array.isArray(body.options) || body.options.some((o) => typeof o !== "string")) throw new SimError("VALIDATION_ERROR", "options must be a list of option names", "options");
        return [200, { message: n.contactAct(contact, { to, messageId, act, options: body.options as string[] }) }];
      }
      return [200, { message: n.contactAct(contact, { to, messageId, act: "revoke" }) }];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/contacts\/([^/]+)\/presence$/,
    handle: (n, [contact], body) => {
      const state = body.state;
      if (state !== "typing" && state !== "recording" && state !== "paused") throw new SimError("VALIDATION_ERROR", "state must be typing, recording or paused", "state");
      n.contactPresence(contact, requirePhone(body.to, "to"), state);
      return [200, { ok: true }];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/contacts\/([^/]+)\/profile$/,
    handle: (n, [contact], body) => {
      const profile: Record<string, unknown> = {};
      for (const k of ["name", "pushname"] as const) if (body[k] !== undefined) profile[k] = requireString(body[k], k);
      for (const k of ["about", "pictureUrl"] as const) if (body[k] !== undefined) profile[k] = body[k] === null ? null : requireString(body[k], k);
      for (const k of ["isBusiness", "onWhatsApp"] as const) {
        if (body[k] === undefined) continue;
        if (typeof body[k] !== "boolean") throw new SimError("VALIDATION_ERROR", `${k} must be a boolean`, k);
        profile[k] = body[k];
      }
      if (body.addToGroups !== undefined) {
        if (body.addToGroups !== "everyone" && body.addToGroups !== "contacts" && body.addToGroups !== "nobody") throw new SimError("VALIDATION_ERROR", "addToGroups must be everyone, contacts or nobody", "addToGroups");
        profile.addToGroups = body.addToGroups;
      }
      n.setProfile(contact, profile);
      return [200, { ok: true }];
    },
  },
  // the account's own phone: sends a message itself, saves a contact
  {
    method: "POST",
    path: /^\/sim\/accounts\/([^/]+)\/send$/,
    handle: (n, [account], body) => {
      const to = requirePhone(body.to, "to");
      if (typeof body.body !== "string") throw new SimError("VALIDATION_ERROR", "body must be a string", "body");
      return [202, n.phoneSend(account, { to, body: body.body, fields: parseMessageFields(body) })];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/accounts\/([^/]+)\/contacts$/,
    handle: (n, [account], body) => {
      n.saveContact(account, requirePhone(body.phone, "phone"), requireString(body.name, "name"));
      // the phone's app state has it at once: a connected baileys device is told (server_sync)
      n.baileysGateway?.addressBookChanged(requirePhone(account, "account"));
      return [200, { ok: true }];
    },
  },
  // WhatsApp's side of a number under restriction: sends that reach no device, and a ban
  {
    method: "POST",
    path: /^\/sim\/accounts\/([^/]+)\/hold-deliveries$/,
    handle: (n, [account], body) => {
      if (typeof body.hold !== "boolean") throw new SimError("VALIDATION_ERROR", "hold must be a boolean (true: sends get no DEVICE ack; false: deliver the held ones)", "hold");
      return [200, n.holdDeliveries(account, body.hold)];
    },
  },
  // a network blip: the account's connection drops and its client reconnects
  { method: "POST", path: /^\/sim\/accounts\/([^/]+)\/drop$/, handle: (n, [account]) => [200, { dropped: n.dropConnection(account) }] },
  {
    method: "POST",
    path: /^\/sim\/accounts\/([^/]+)\/restrict$/,
    handle: (n, [account], body) => {
      const reason = body.reason;
      if (reason !== null && !(SIM_RESTRICTIONS as readonly unknown[]).includes(reason)) throw new SimError("VALIDATION_ERROR", `reason must be one of ${SIM_RESTRICTIONS.join(", ")}, or null to lift the restriction`, "reason");
      n.restrict(account, reason as SimRestriction | null);
      return [200, { ok: true }];
    },
  },
  // the oracle: what the network keeps for an account
  {
    method: "GET",
    path: /^\/sim\/accounts\/([^/]+)\/chats$/,
    handle: (n, [account]) => [200, { chats: n.accounts.chats(requirePhone(account, "account"), Number.MAX_SAFE_INTEGER).items }],
  },
  {
    method: "GET",
    path: /^\/sim\/accounts\/([^/]+)\/chats\/([^/]+)\/messages$/,
    handle: (n, [account, chat]) => {
      const page = n.accounts.messages(requirePhone(account, "account"), chat, { limit: Number.MAX_SAFE_INTEGER });
      if (!page) throw new SimError("NOT_FOUND", `no chat ${chat}`);
      return [200, { messages: page.items }];
    },
  },
  {
    method: "GET",
    path: /^\/sim\/accounts\/([^/]+)\/state$/,
    handle: (n, [account]) => {
      const phone = requirePhone(account, "account");
      return [200, { presence: n.accounts.presence(phone), blocked: n.accounts.blocked(phone) }];
    },
  },
  // groups, from the contacts' side; and the oracle's view of a group
  {
    method: "POST",
    path: /^\/sim\/groups$/,
    handle: (n, _p, body) => [201, n.contactCreateGroup(requirePhone(body.by, "by"), requireString(body.subject, "subject"), requireList(body.participants, "participants"))],
  },
  {
    method: "POST",
    path: /^\/sim\/groups\/join$/,
    handle: (n, _p, body) => [200, { group: n.contactJoinGroup(requirePhone(body.by, "by"), requireString(body.code, "code")) }],
  },
  {
    method: "GET",
    path: /^\/sim\/groups\/([^/]+)$/,
    handle: (n, [groupId]) => {
      const g = n.groups.inspect(groupId);
      if (!g) throw new SimError("NOT_FOUND", `no group ${groupId}`);
      return [200, g];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/groups\/([^/]+)\/participants$/,
    handle: (n, [groupId], body) => {
      const action = body.action;
      if (action !== "add" && action !== "remove" && action !== "promote" && action !== "demote") throw new SimError("VALIDATION_ERROR", "action must be add, remove, promote or demote", "action");
      return [200, n.contactGroupParticipants(requirePhone(body.by, "by"), groupId, action, requireList(body.participants, "participants"))];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/groups\/([^/]+)\/update$/,
    handle: (n, [groupId], body) => {
      const change: { subject?: string; description?: string; settings?: { announce?: boolean; restrict?: boolean } } = {};
      if (body.subject !== undefined) change.subject = requireString(body.subject, "subject");
      if (body.description !== undefined) {
        if (typeof body.description !== "string") throw new SimError("VALIDATION_ERROR", "description must be a string", "description");
        change.description = body.description;
      }
      if (body.settings !== undefined) {
        const st = body.settings as Record<string, unknown>;
        if (typeof st !== "object" || st === null || Object.values(st).some((x) => typeof x !== "boolean")) throw new SimError("VALIDATION_ERROR", "settings must be {announce?, restrict?} booleans", "settings");
        change.settings = st as { announce?: boolean; restrict?: boolean };
      }
      return [200, { group: n.contactGroupUpdate(requirePhone(body.by, "by"), groupId, change) }];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/groups\/([^/]+)\/leave$/,
    handle: (n, [groupId], body) => {
      n.contactLeaveGroup(requirePhone(body.by, "by"), groupId);
      return [200, { ok: true }];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/groups\/([^/]+)\/send$/,
    maxBytes: MAX_MEDIA_JSON_BYTES,
    handle: (n, [groupId], body) => {
      if (typeof body.body !== "string") throw new SimError("VALIDATION_ERROR", "body must be a string", "body");
      const media = body.media === undefined ? undefined : parseMedia(body.media);
      if (body.media !== undefined && !media) throw new SimError("VALIDATION_ERROR", "media needs mimetype and base64 data (filename optional)", "media");
      return [202, n.groupSend(requirePhone(body.from, "from"), groupId, { body: body.body, media, fields: parseMessageFields(body) })];
    },
  },
  // calls: a contact rings a linked account; the oracle's view of a call
  {
    method: "POST",
    path: /^\/sim\/contacts\/([^/]+)\/call$/,
    handle: (n, [contact], body) => {
      for (const k of ["isVideo", "isGroup"] as const) if (body[k] !== undefined && typeof body[k] !== "boolean") throw new SimError("VALIDATION_ERROR", `${k} must be a boolean`, k);
      return [200, n.contactCall(contact, requirePhone(body.to, "to"), { isVideo: body.isVideo === true, isGroup: body.isGroup === true })];
    },
  },
  {
    method: "GET",
    path: /^\/sim\/calls\/([^/]+)$/,
    handle: (n, [callId]) => {
      const call = n.calls.get(callId);
      if (!call) throw new SimError("NOT_FOUND", `no call ${callId}`);
      return [200, call];
    },
  },
  // labels (WhatsApp Business): made and applied on the account's phone
  {
    method: "POST",
    path: /^\/sim\/accounts\/([^/]+)\/labels$/,
    handle: (n, [account], body) => {
      if (body.color !== undefined && (typeof body.color !== "string" || !/^#[0-9a-f]{6}$/i.test(body.color))) throw new SimError("VALIDATION_ERROR", "color must be #rrggbb", "color");
      return [201, n.phoneCreateLabel(account, requireString(body.name, "name"), body.color as string | undefined)];
    },
  },
  {
    method: "POST",
    path: /^\/sim\/accounts\/([^/]+)\/labels\/([^/]+)\/chats$/,
    handle: (n, [account, labelId], body) => {
      if (typeof body.on !== "boolean") throw new SimError("VALIDATION_ERROR", "on must be a boolean", "on");
      return [200, { changed: n.phoneLabelChat(account, requireString(body.chatId, "chatId"), labelId, body.on) }];
    },
  },
  {
    method: "GET",
    path: /^\/sim\/accounts\/([^/]+)\/chats\/([^/]+)\/labels$/,
    handle: (n, [account, chat]) => [200, { labels: n.labels.ofChat(requirePhone(account, "account"), chat) }],
  },
  { method: "GET", path: /^\/sim\/contacts\/([^/]+)\/inbox$/, handle: (n, [contact]) => [200, { messages: n.inbox(requirePhone(contact, "contact")) }] },
];

/** The HTTP request handler for the admin API; anything outside the route table is a 404. */
export function createAdminHandler(network: SimNetwork): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(network, req, res).catch((err) => {
      const e = err instanceof SimError ? err : undefined;
      reply(res, e?.status ?? 500, e?.toBody() ?? { error: { code: "INTERNAL_ERROR", message: String(err?.message ?? err) } });
    });
  };
}

async function serve(network: SimNetwork, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  let match: RegExpExecArray | null = null;
  const route = ROUTES.find((r) => r.method === req.method && (match = r.path.exec(path)) !== null);
  if (!route || !match) {
    req.resume();
    throw new SimError("NOT_FOUND", `No route ${req.method} ${path}`);
  }
  const params = (match as RegExpExecArray).slice(1).map((p) => safeDecode(p));
  const maxBytes = route.maxBytes ?? MAX_BODY_BYTES;
  let body: Body = {};
  let raw: RawBody | undefined;
  if (req.method !== "POST") req.resume();
  else if (route.body === "raw") {
    raw = { bytes: await readBody(req, maxBytes), query: new URLSearchParams((req.url ?? "").split("?")[1] ?? ""), contentType: String(req.headers["content-type"] ?? "") };
  } else body = parseJsonObject(await readBody(req, maxBytes));
  const [status, json] = await route.handle(network, params, body, raw);
  reply(res, status, json);
}

function reply(res: ServerResponse, status: number, json: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(json);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The body, read once: into one buffer of the declared Content-Length when there is one (no chunk
 * list and second copy), else collected. Past the cap it keeps draining, so the client reads the
 * 413 instead of a reset.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    const whole = Number.isSafeInteger(declared) && declared >= 0 && declared <= maxBytes ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      const at = size;
      size += chunk.length;
      if (size > maxBytes) return;
      if (whole && size <= whole.length) chunk.copy(whole, at);
      else chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (size > maxBytes) return reject(new SimError("PAYLOAD_TOO_LARGE", `The body exceeds ${maxBytes} bytes`));
      if (whole && size === whole.length) return resolve(whole);
      resolve(whole ? Buffer.concat([whole.subarray(0, Math.min(size, whole.length)), ...chunks]) : Buffer.concat(chunks));
    });
  });
}

function parseJsonObject(raw: Buffer): Body {
  const text = raw.toString("utf8").trim();
  if (!text) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SimError("INVALID_JSON", "The body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SimError("VALIDATION_ERROR", "The body must be a JSON object", "body");
  return body as Body;
}

function requirePhone(value: unknown, field: string): string {
  const phone = parsePhone(value);
  if (!phone) throw new SimError("VALIDATION_ERROR", `${field} must be a phone number: 5-20 digits, optionally with a leading +`, field);
  return phone;
}

function requireList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > 1024 || value.some((v) => typeof v !== "string")) throw new SimError("VALIDATION_ERROR", `${field} must be a list of at most 1024 phone numbers`, field);
  return value as string[];
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== "string" || !value || value.length > 65536) throw new SimError("VALIDATION_ERROR", `${field} must be a non-empty string`, field);
  return value;
}

function parseFaults(body: Body): Partial<SimFaults> {
  const faults: Partial<SimFaults> = {};
  if (body.latencyMs !== undefined) {
    const v = body.latencyMs;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > MAX_LATENCY_MS) throw new SimError("VALIDATION_ERROR", `latencyMs must be a number of milliseconds, 0-${MAX_LATENCY_MS}`, "latencyMs");
    faults.latencyMs = v;
  }
  if (body.dropRate !== undefined) {
    const v = body.dropRate;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1) throw new SimError("VALIDATION_ERROR", "dropRate must be a probability, 0-1", "dropRate");
    faults.dropRate = v;
  }
  if (body.loseUpdateAcks !== undefined) {
    if (typeof body.loseUpdateAcks !== "boolean") throw new SimError("VALIDATION_ERROR", "loseUpdateAcks must be a boolean", "loseUpdateAcks");
    faults.loseUpdateAcks = body.loseUpdateAcks;
  }
  return faults;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
