// Exactly-once for incoming messages on the wwebjs engine. WhatsApp Web acknowledges a message to
// WhatsApp as soon as the page has stored it, before wafleet has made its event durable: a node
// that dies in that gap would lose the message (WhatsApp will not send it again). So the engine
// keeps a watermark per chat (the newest incoming message whose event became durable) in the
// session's auth folder, and on every ready it reads each chat's history past its watermark and
// delivers what is missing. Event ids derive from message ids (lib/events messageEventId), so a
// message delivered twice (the watermark is written lazily) is a duplicate downstream, never a new
// message.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Client, Message } from "whatsapp-web.js";
import { writeFileAtomic } from "../auth-folder";
import { chatActivity, incomingSince } from "./history";

export const WATERMARK_FILE = "wafleet-watermarks.json";

interface ChatMark {
  /** Unix seconds of the newest durable incoming message */
  t: number;
  /** The durable ids at that second (several messages may share it) */
  ids: string[];
}

interface WatermarkState {
  /** The first ready ever: nothing older is owed (a new link does not replay the account's past). */
  since?: number;
  chats: Record<string, ChatMark>;
}

/** The per-chat watermarks of one session, written atomically and lazily (a lost write only means a duplicate). */
export class Watermarks {
  private state: WatermarkState = { chats: {} };
  private loaded = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly authDir: string,
    private readonly log: (msg: string) => void,
    private readonly delayMs = 500,
  ) {}

  private get file(): string {
    return path.join(this.authDir, WATERMARK_FILE);
  }

  async load(): Promise<void> {
    if (this.loaded) return;
    try {
      const parsed = JSON.parse(await readFile(this.file, "utf8"));
      if (parsed && typeof parsed === "object" && typeof parsed.chats === "object") this.state = { since: typeof parsed.since === "number" ? parsed.since : undefined, chats: parsed.chats };
    } catch {
      // none yet (or unreadable): starts empty
    }
    this.loaded = true;
  }

  get since(): number | undefined {
    return this.state.since;
  }

  /** Marks the start of owed history (the first ready ever). */
  begin(nowSeconds: number): void {
    if (this.state.since !== undefined) return;
    this.state.since = nowSeconds;
    this.schedule();
  }

  mark(chatId: string): ChatMark {
    return this.state.chats[chatId] ?? { t: this.state.since ?? 0, ids: [] };
  }

  /** Whether this message's event is known durable. */
  covers(chatId: string, id: string, t: number): boolean {
    const m = this.mark(chatId);
    return t < m.t || (t === m.t && m.ids.includes(id));
  }

  /** The message's event is durable: the chat's watermark moves up to it. */
  advance(chatId: string, id: string, t: number): void {
    const m = this.state.chats[chatId];
    if (!m || t > m.t) this.state.chats[chatId] = { t, ids: [id] };
    else if (t === m.t && !m.ids.includes(id)) m.ids.push(id);
    else return;
    this.schedule();
  }

  /** Writes now (a stop, a logout): waits for the write. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    }
    await this.writing;
  }

  /** Forgets everything (the device was unlinked). */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = { chats: {} };
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, this.delayMs);
  }

  private write(): void {
    const text = JSON.stringify(this.state);
    this.writing = this.writing.then(() => writeFileAtomic(this.file, text)).catch((err) => this.log(`cannot write ${this.file}: ${err?.message ?? err}`));
  }
}

/**
 * The incoming messages of `client`'s chats past their watermarks, oldest first per chat: what
 * the engine still owes. Only chats active since their watermark are read, and each only back to
 * its watermark (history.ts): a big account's older history stays unloaded.
 */
export async function missedMessages(client: Client, marks: Watermarks): Promise<Message[]> {
  const out: Message[] = [];
  for (const chat of await chatActivity(client)) {
    const mark = marks.mark(chat.id);
    if (chat.t < mark.t) continue;
    const msgs = await incomingSince(client, chat.id, mark.t);
    out.push(...msgs.filter((m) => !marks.covers(chat.id, m.id._serialized, m.timestamp)));
  }
  return out;
}
