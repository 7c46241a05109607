// Strict JSON request bodies. Replaces body-parser on the API routes so that every careless or
// hostile body gets a precise 4xx: 413 over the size limit, 415 when it is not JSON, 400
// INVALID_JSON for syntax errors and bad UTF-8, JSON_DUPLICATE_KEY, JSON_TOO_DEEP, and keys that
// would reach object prototypes (__proto__, constructor, prototype).
import type { IncomingMessage } from "node:http";
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

/** Parses a body already read: strict UTF-8, scanned, then JSON.parse; the top level must be an object. */
export function parseJsonBody(buf: Buffer, maxDepth: number): Record<string, unknown> {
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
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WafleetError("VALIDATION_ERROR", "The body must be a JSON object", [{ field: "body", message: "expected a JSON object", type: "object" }]);
  }
  return value as Record<string, unknown>;
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(";")[0].trim().toLowerCase();
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  if (len !== undefined) return Number(len) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/**
 * Reads the request body into `req.body` (`{}` when there is none). The limit is checked against
 * Content-Length before reading and against the bytes as they arrive.
 */
export function readJsonBody(req: IncomingMessage & { body?: unknown }, opts: JsonBodyOptions): Promise<void> {
  if (!hasBody(req)) {
    req.body = {};
    return Promise.resolve();
  }
  if (!isJsonType(req.headers["content-type"])) {
    req.resume();
    return Promise.reject(new WafleetError("UNSUPPORTED_MEDIA_TYPE", "The body must be JSON: send Content-Type: application/json"));
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > opts.limit) {
    req.resume();
    return Promise.reject(new WafleetError("PAYLOAD_TOO_LARGE", `The body is larger than ${opts.limit} bytes`, { limit: opts.limit }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      req.removeListener("data", onData);
      if (err) {
        req.resume();
        reject(err);
        return;
      }
      try {
        req.body = parseJsonBody(Buffer.concat(chunks, size), opts.maxDepth);
        resolve();
      } catch (e) {
        reject(e as Error);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > opts.limit) finish(new WafleetError("PAYLOAD_TOO_LARGE", `The body is larger than ${opts.limit} bytes`, { limit: opts.limit }));
      else chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish());
    req.once("error", () => finish(new WafleetError("INVALID_JSON", "The body could not be read")));
    req.once("aborted", () => finish(new WafleetError("INVALID_JSON", "The client aborted the body")));
  });
}
