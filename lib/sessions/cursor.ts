// Opaque, tamper-proof list cursors: the engine's own position (a network sequence number, a
// WhatsApp message id) wrapped with what the list was (kind, chat, filters) and bound to its session
// by an HMAC. A changed, truncated or borrowed cursor (another session, chat or filter) is refused
// with 400 INVALID_CURSOR; the engine never sees a position it did not hand out.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { WafleetError } from "../errors";

export interface CursorScope {
  workspaceId: string;
  sessionId: string;
  /** chats, messages, contacts */
  kind: string;
  /** What else the list depends on (chat id, since, fromMe), as one string. */
  list?: string;
}

const MAX_CURSOR = 512;

export class CursorCodec {
  private readonly key: Buffer;

  /** `secret`: CURSOR_SECRET, the same on every node (a cursor made on one node is read on another). */
  constructor(secret: string) {
    this.key = createHash("sha256").update(`wafleet-cursor|${secret}`).digest();
  }

  encode(scope: CursorScope, position: string): string {
    const body = Buffer.from(position, "utf8").toString("base64url");
    return `${body}.${this.mac(scope, body)}`;
  }

  /** The position inside `cursor`, or INVALID_CURSOR. */
  decode(scope: CursorScope, cursor: string): string {
    const dot = cursor.indexOf(".");
    if (cursor.length > MAX_CURSOR || dot <= 0) throw invalid();
    const body = cursor.slice(0, dot);
    const given = Buffer.from(cursor.slice(dot + 1), "utf8");
    const expected = Buffer.from(this.mac(scope, body), "utf8");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    return Buffer.from(body, "base64url").toString("utf8");
  }

  private mac(scope: CursorScope, body: string): string {
    return createHmac("sha256", this.key)
      .update(`${scope.workspaceId}\u0000${scope.sessionId}\u0000${scope.kind}\u0000${scope.list ?? ""}\u0000${body}`)
      .digest()
      .subarray(0, 16)
      .toString("base64url");
  }
}

function invalid(): WafleetError {
  return new WafleetError("INVALID_CURSOR");
}
