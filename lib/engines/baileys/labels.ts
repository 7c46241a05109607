// The baileys engine's WhatsApp Business labels: kept in the engine's store from app state
// (`label_edit` and `label_jid` mutations of the `regular` collection, Baileys' `labels.edit` and
// `labels.association`), put on a chat or taken off with Baileys' own `addChatLabel` /
// `removeChatLabel` app-state patches. Only a business account has labels: the engine asks WhatsApp
// for the account's own business profile (Baileys' `getBusinessProfile`) once per connection.
import { parseId } from "../../whatsapp";
import type { Label } from "../capabilities";
import { EngineError } from "../errors";
import type { BaileysStore } from "./store";

export interface BaileysLabelsOptions {
  /** The ready socket (throws SESSION_NOT_READY otherwise) */
  sock: () => any;
  store: () => BaileysStore;
  mePhone: () => string;
  /** Whether the phone has shared its app-state key (a label patch needs it) */
  hasAppStateKey: () => boolean;
  timeoutMs: number;
}

export class BaileysLabels {
  private readonly business = new WeakMap<object, Promise<boolean>>();

  constructor(private readonly opts: BaileysLabelsOptions) {}

  async listLabels(): Promise<Label[]> {
    await this.requireBusiness();
    return this.opts.store().listLabels();
  }

  async getChatLabels(chatId: string): Promise<Label[] | undefined> {
    await this.requireBusiness();
    return this.opts.store().labelsOfChat(chatIdOf(chatId));
  }

  async setChatLabel(chatId: string, labelId: string, on: boolean): Promise<"ok" | "no_chat" | "no_label"> {
    const sock = await this.requireBusiness();
    const store = this.opts.store();
    const chat = chatIdOf(chatId);
    if (!(await store.getChat(chat))) return "no_chat";
    if (!(await store.getLabel(labelId))) return "no_label";
    await this.waitForKey(sock);
    // in the store first, so Baileys' own echo of the patch (labels.association) is no news
    const changed = await store.labelChat(chat, labelId, on);
    const jid = chat.endsWith("@g.us") ? chat : `${chat.split("@")[0]}@s.whatsapp.net`;
    let timer: NodeJS.Timeout | undefined;
    try {
      const patch = on ? sock.addChatLabel(jid, labelId) : sock.removeChatLabel(jid, labelId);
      patch.catch(() => undefined);
      await Promise.race([patch, new Promise((_, reject) => (timer = setTimeout(() => reject(new EngineError("ENGINE_TIMEOUT", `WhatsApp did not take the label within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs)))]);
    } catch (err) {
      if (changed) await store.labelChat(chat, labelId, !on);
      if (err instanceof EngineError) throw err;
      throw new EngineError("ENGINE_ERROR", `WhatsApp refused the label: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    return "ok";
  }

  /** The ready socket of a business account; LABELS_NOT_AVAILABLE otherwise. */
  private async requireBusiness(): Promise<any> {
    const sock = this.opts.sock();
    let known = this.business.get(sock);
    if (!known) {
      known = Promise.resolve(sock.getBusinessProfile(`${this.opts.mePhone()}@s.whatsapp.net`)).then((p: unknown) => Boolean(p));
      this.business.set(sock, known);
      known.catch(() => this.business.delete(sock));
    }
    let isBusiness: boolean;
    try {
      isBusiness = await known;
    } catch (err) {
      throw new EngineError("ENGINE_ERROR", `WhatsApp did not tell whether the account is a business: ${(err as Error).message}`);
    }
    if (!isBusiness) throw new EngineError("LABELS_NOT_AVAILABLE", "Labels are a WhatsApp Business feature: this account is not a business account");
    return sock;
  }

  /** The phone shares its app-state key right after linking: a label just after may wait for it. */
  private async waitForKey(sock: any): Promise<void> {
    const deadline = Date.now() + this.opts.timeoutMs;
    while (!this.opts.hasAppStateKey()) {
      if (Date.now() > deadline) throw new EngineError("ENGINE_TIMEOUT", "WhatsApp has not shared the app-state key a label needs");
      await new Promise((r) => setTimeout(r, 100));
      if (this.opts.sock() !== sock) throw new EngineError("SESSION_NOT_READY", "The connection to WhatsApp closed");
    }
  }
}

/** A chat id as the store names it: `<phone>@c.us`, or a group's id. */
function chatIdOf(chatId: string): string {
  const id = parseId(chatId);
  if (id?.kind === "user") return `${id.user}@c.us`;
  if (id?.kind === "group") return id.serialized;
  throw new EngineError("VALIDATION_ERROR", `Not a chat id: ${JSON.stringify(chatId)}`);
}
