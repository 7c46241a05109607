// How the gateway writes answers: JSON with its length, and errors in the catalogue's shape
// (`{"error": {code, message, details?}}`, plus `success: false` on the Laravel routes) with the
// headers their status promises (Retry-After on 429 and 503).
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { toErrorBody } from "../errors";

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": String(Buffer.byteLength(payload)), ...headers });
  res.end(payload);
}

export interface ErrorReplyOptions {
  /** The Laravel compatibility shape: `{success: false, message, error}`. */
  compat?: boolean;
  headers?: Record<string, string>;
}

/** Writes an error as the catalogue says; a response already under way is only ended. */
export function sendError(res: ServerResponse, err: any, opts: ErrorReplyOptions = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const { status, body } = toErrorBody(err);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (status === 503) headers["Retry-After"] ??= "5";
  if (status === 429) headers["Retry-After"] = String(err?.data?.retryAfter ?? 1);
  if (body.error.code === "IDEMPOTENCY_KEY_IN_USE" || body.error.code === "GATEWAY_BUSY") headers["Retry-After"] = "1";
  if (opts.compat) sendJson(res, status, { success: false, message: body.error.message, ...body }, headers);
  else sendJson(res, status, body, headers);
}

/**
 * Closes a connection whose request body was not read without losing the answer. Node's server
 * ends such a socket after the answer and destroys it at once; a close with unread bytes in the
 * kernel's buffer sends a TCP reset, which can overtake the answer (a client still sending its
 * body sees ECONNRESET instead of the 401). So, as nginx's lingering close does: FIN after the
 * answer, discard what still arrives, and close when the client closes its side or after `ms`.
 */
export function lingerOnClose(socket: Socket, ms: number): void {
  // the server calls socket.destroySoon() once a `Connection: close` answer is written
  (socket as Socket & { destroySoon(): void }).destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    socket.once("end", () => socket.destroy());
    socket.once("close", () => clearTimeout(timer));
  };
}
