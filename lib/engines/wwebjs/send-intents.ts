// Exactly once for sends under an Idempotency-Key on the wwebjs engine. whatsapp-web.js picks its
// own message ids, so the id the gateway derives from the key cannot make WhatsApp drop a resend
// (the simulator engine sends with that id, and the network drops the duplicate). Instead the
// engine writes an intent per key in the session's auth folder before it sends, and the id it
// got once it has sent; a retry after an ambiguous failure (the owner died mid-send) finds the
// intent, and, without an id, looks for the message among the chat's recent own messages before
// it sends again.
import { mkdir, readFile, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../auth-folder";

export const INTENTS_DIR = "wafleet-send-intents";
/** Intents older than this are forgotten (the gateway's Idempotency-Key TTL is a day by default). */
const KEEP_MS = 7 * 24 * 3600 * 1000;

export interface SendIntent {
  /** The gateway's id for the key (WFI...) */
  key: string;
  /** `<phone>@c.us` */
  to: string;
  /** What a sent copy shows: the text, or the caption ("" for content without text) */
  body: string;
  /** Unix seconds when the send began */
  at: number;
  /** The library's id once the send returned */
  sentId?: string;
}

export class SendIntents {
  constructor(private readonly authDir: string) {}

  private file(key: string): string {
    if (!/^WFI[0-9A-F]{29}$/.test(key)) throw new Error(`not an intent key: ${key}`);
    return path.join(this.authDir, INTENTS_DIR, `${key}.json`);
  }

  async read(key: string): Promise<SendIntent | undefined> {
    try {
      const parsed = JSON.parse(await readFile(this.file(key), "utf8"));
      return parsed && parsed.key === key ? (parsed as SendIntent) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Written whole (temp file, rename) before it returns: before the send, and after it. */
  async write(intent: SendIntent): Promise<void> {
    await mkdir(path.join(this.authDir, INTENTS_DIR), { recursive: true });
    await writeFileAtomic(this.file(intent.key), JSON.stringify(intent));
  }

  /** Drops intents past their keep time (best effort). */
  async sweep(now = Date.now()): Promise<void> {
    const dir = path.join(this.authDir, INTENTS_DIR);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const p = path.join(dir, name);
      const st = await stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > KEEP_MS) await rm(p, { force: true });
    }
  }
}
