// Request bodies, read only once the gateway has admitted a request (the Laravel compatibility
// routes also take form-encoded bodies, as PHP clients send them). Strict JSON so that every
// careless or hostile body gets a precise 4xx: 413 over the size limit, 415 when it is not JSON,
// 400 INVALID_JSON for syntax errors and bad UTF-8, JSON_DUPLICATE_KEY, JSON_TOO_DEEP, keys that
// would reach object prototypes (__proto__, constructor, prototype), 408 for a body that stops
// arriving; and raw bodies handed to their route as a size-limited stream.
import type { IncomingMessage } from "node:http";
import { Transform, type Readable } from "node:stream";
import qs from "qs";
import { WafleetError } from "../errors";

export interface JsonBodyOptions {
  /** Bytes. */
  limit: number;
  /** Nesting of objects and arrays, the top level counting as 1. */
  maxDepth: number;
}

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * One pass over the text before JSON.parse sees it: tracks strings and brackets only, so it is
 * linear and allocates per key. It finds duplicated keys (JSON.parse would silently keep the last
 * one, so two parsers could disagree on what a request meant), nesting deeper than maxDepth
 * (refused before a recursive consumer could overflow its stack) and prototype-reaching keys.
 * Syntax errors are left to JSON.parse.
 */
export function scanJson(text: string, maxDepth: number): void {
  // one frame per open container: a Set of keys seen for an object, null for an array
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      i = stringEnd(text, start);
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const raw = text.slice(start, i + 1);
        let key: string;
        if (raw.indexOf("\\") < 0) key = raw.slice(1, -1);
        else {
          try {
            key = JSON.parse(raw) as string;
          } catch {
            return; // JSON.parse reports it
          }
        }
        if (FORBIDDEN_KEYS.has(key)) throw new WafleetError("VALIDATION_ERROR", `Invalid field(s): ${key}`, [{ field: key, message: "this key is not allowed in request bodies", type: "forbiddenKey" }]);
        if (top.has(key)) throw new WafleetError("JSON_DUPLICATE_KEY", `The key "${key.slice(0, 64)}" appears twice in one object`, { key: key.slice(0, 64), depth: stack.length });
        top.add(key);
        expectKey = false;
      }
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > maxDepth) throw new WafleetError("JSON_TOO_DEEP", `The body nests objects and arrays deeper than ${maxDepth} levels`, { maxDepth });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
}

/** Index of the closing quote of the string starting at `start`, honouring backslash escapes. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d === 0x5c) i++;
    else if (d === 0x22) break;
  }
  return i;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Parses a body already read: strict UTF-8, scanned, then JSON.parse; the top level must be an
 * object (with `emptyArrayIsObject`, PHP's empty array `[]` counts as `{}`: Laravel's
 * `Http::post($url)` sends it for "no fields").
 */
export function parseJsonBody(buf: Buffer, maxDepth: number, emptyArrayIsObject = false): Record<string, unknown> {
  let text: string;
  try {
    text = decoder.decode(buf);
  } catch {
    throw new WafleetError("INVALID_JSON", "The body is not valid UTF-8");
  }
  scanJson(text, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err: any) {
    throw new WafleetError("INVALID_JSON", `The body is not valid JSON: ${String(err?.message ?? "").slice(0, 120)}`);
  }
  if (emptyArrayIsObject && Array.isArray(value) && value.length === 0) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WafleetError("VALIDATION_ERROR", "The body must be a JSON object", [{ field: "body", message: "expected a JSON object", type: "object" }]);
  }
  return value as Record<string, unknown>;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

function isJsonType(contentType: string | undefined): boolean {
  const type = mediaType(contentType);
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

const FORM_TYPE = "application/x-www-form-urlencoded";

/**
 * Parses a form body (`a=1&b[c]=2`, as PHP's http_build_query and Laravel's `asForm()` write it)
 * into the same fields a JSON body gives: strict UTF-8, nesting limited like JSON's, at most 1,000
 * fields, prototype-reaching keys refused. Every value is a string.
 */
export function parseFormBody(buf: Buffer, maxDepth: number): Record<string, unknown> {
  let text: string;
  try {
    text = decoder.decode(buf);
  } catch {
    throw new WafleetError("INVALID_JSON", "The body is not valid UTF-8");
  }
  const pairs = text.split("&");
  if (pairs.length > 1000) throw new WafleetError("VALIDATION_ERROR", "The form body has more than 1,000 fields", [{ field: "body", message: "at most 1,000 fields", type: "formFields" }]);
  for (const pair of pairs) {
    const rawKey = pair.split("=")[0] ?? "";
    let key: string;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, " "));
    } catch {
      throw new WafleetError("MALFORMED_REQUEST", "The form body has a malformed percent-encoding");
    }
    for (const part of key.split(/[[\]]+/)) if (FORBIDDEN_KEYS.has(part)) throw new WafleetError("VALIDATION_ERROR", `Invalid field(s): ${part}`, [{ field: part, message: "this key is not allowed in request bodies", type: "forbiddenKey" }]);
    if ((key.match(/\[/g) ?? []).length >= maxDepth) throw new WafleetError("JSON_TOO_DEEP", `The body nests fields deeper than ${maxDepth} levels`, { maxDepth });
  }
  return qs.parse(text, { depth: maxDepth, parameterLimit: 1000, allowPrototypes: false, charset: "utf-8" }) as Record<string, unknown>;
}

/** Whether the request carries a body at all (a declared length above 0, or a chunked one). */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/** The declared Content-Length, or undefined for a chunked body. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const n = Number(req.headers["content-length"]);
  return req.headers["content-length"] !== undefined && Number.isFinite(n) ? n : undefined;
}

const tooLarge = (limit: number) => new WafleetError("PAYLOAD_TOO_LARGE", `The body is larger than ${limit} bytes`, { limit });
const stalled = (idleMs: number) => new WafleetError("REQUEST_TIMEOUT", `No byte of the body arrived for ${idleMs} ms`, { idleMs });

export interface BodyReadOptions {
  /** Bytes. */
  limit: number;
  /** The body fails with 408 REQUEST_TIMEOUT when no byte arrives for this long (0 = no limit). */
  idleMs: number;
}

/**
 * Reads a whole body into memory, checking the limit against Content-Length before reading and
 * against the bytes as they arrive, and the idle deadline between chunks. A refused body is left
 * unread (the caller answers and closes the connection).
 */
export function readBodyBytes(req: IncomingMessage, opts: BodyReadOptions): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > opts.limit) return Promise.reject(tooLarge(opts.limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      if (!opts.idleMs) return;
      clearTimeout(idle);
      idle = setTimeout(() => finish(stalled(opts.idleMs)), opts.idleMs);
    };
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > opts.limit) finish(tooLarge(opts.limit));
      else {
        chunks.push(chunk);
        arm();
      }
    };
    const onEnd = () => finish();
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", () => finish(new WafleetError("INVALID_JSON", "The body could not be read")));
    req.once("aborted", () => finish(new WafleetError("INVALID_JSON", "The client aborted the body")));
    arm();
  });
}

/**
 * Reads a JSON body: `{}` when there is none; 415 unless its Content-Type is JSON and 413 when its
 * declared length is over the limit (both before a byte is read); then strict parsing.
 */
export async function readJsonBody(req: IncomingMessage, opts: JsonBodyOptions & BodyReadOptions & { beforeRead?: () => Promise<void>; formBodies?: boolean }): Promise<Record<string, unknown>> {
  if (!hasBody(req)) return {};
  const form = opts.formBodies === true && mediaType(req.headers["content-type"]) === FORM_TYPE;
  if (!form && !isJsonType(req.headers["content-type"])) {
    throw new WafleetError("UNSUPPORTED_MEDIA_TYPE", opts.formBodies ? `The body must be JSON or a form: send Content-Type: application/json or ${FORM_TYPE}` : "The body must be JSON: send Content-Type: application/json");
  }
  const declared = declaredLength(req);
  if (declared !== undefined && declared > opts.limit) throw tooLarge(opts.limit);
  // the last word before bytes are read (the gateway takes a slot for a large body here)
  await opts.beforeRead?.();
  const bytes = await readBodyBytes(req, opts);
  return form ? parseFormBody(bytes, opts.maxDepth) : parseJsonBody(bytes, opts.maxDepth, opts.formBodies === true);
}

/**
 * A raw body as a stream its route consumes at its own pace (never buffered whole here): the limit
 * is checked against Content-Length first and against the bytes as they pass; the idle deadline
 * between chunks holds too. Either failure errors the stream with its catalogue error.
 */
export function limitedBody(req: IncomingMessage, opts: BodyReadOptions): Readable {
  const declared = declaredLength(req);
  let size = 0;
  let idle: NodeJS.Timeout | undefined;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > opts.limit) return cb(tooLarge(opts.limit));
      arm();
      cb(null, chunk);
    },
    flush(cb) {
      clearTimeout(idle);
      cb();
    },
  });
  const arm = () => {
    if (!opts.idleMs) return;
    clearTimeout(idle);
    idle = setTimeout(() => out.destroy(stalled(opts.idleMs)), opts.idleMs);
  };
  out.on("close", () => clearTimeout(idle));
  if (declared !== undefined && declared > opts.limit) {
    process.nextTick(() => out.destroy(tooLarge(opts.limit)));
    return out;
  }
  req.once("aborted", () => out.destroy(new WafleetError("MALFORMED_REQUEST", "The client aborted the body")));
  req.pipe(out);
  arm();
  return out;
}
