// What feeds the baileys engine's store (store.ts): Baileys' events for one connection, turned into
// the store's changes. History sync (`messaging-history.set`: chats with their recent messages, push
// names, contacts), live and own messages (`messages.upsert`), their acks, edits, revokes and deletes
// (`messages.update` / `messages.delete`), reactions, the chats' own changes (`chats.*`) and contacts
// (`contacts.*`: app-state contact actions, push names).
import type { EngineMessage } from "../types";
import { loadBaileys } from "./library";
import type { BaileysStore } from "./store";
import { personIdOf } from "./store";

export interface StoreFeedOptions {
  /** The open store (undefined while the engine is stopped: nothing is fed then) */
  store: () => BaileysStore | undefined;
  mePhone: () => string;
  /** A Baileys message in the engine's terms; undefined for what is no chat message */
  messageOf: (m: any, mePhone: string) => EngineMessage | undefined;
  log: (level: "warn" | "error", msg: string) => void;
  /** A label was put on a chat or taken off (app state), after the store has it */
  onChatLabel: (chatId: string, labelId: string, on: boolean) => void;
}

/** WhatsApp Business' label colours, by the palette index app state carries. */
export const LABEL_PALETTE = ["#ff9485", "#64c4ff", "#ffd429", "#dfaef0", "#99b6c1", "#55ccb3", "#ff9dff", "#d3a91d", "#6d7cce", "#d7e752"];

/** Baileys' message status -> the engine's ack (ERROR 0, PENDING 1, SERVER_ACK 2, DELIVERY_ACK 3, READ 4, PLAYED 5). */
const ACKS = ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"] as const;

/** A chat's id as the engine names it, from a Baileys jid (a group as it is). */
const chatIdOf = (jid: string | undefined | null): string | undefined => (jid?.endsWith("@g.us") ? jid : personIdOf(jid ?? ""));

export class StoreFeed {
  constructor(private readonly opts: StoreFeedOptions) {}

  /** Feeds the store from this connection's events, while `current()` says it is the engine's. */
  attach(sock: any, current: () => boolean): void {
    const on = (event: string, fn: (arg: any) => Promise<void> | void) =>
      sock.ev.on(event, (arg: any) => {
        const store = this.opts.store();
        if (!current() || !store) return;
        void Promise.resolve(fn(arg)).catch((err: Error) => this.opts.log("error", `the store could not take ${event}: ${err.message}`));
      });
    on("messaging-history.set", (h: { chats?: any[]; contacts?: any[]; messages?: any[] }) => this.onHistory(h));
    on("messages.upsert", (u: { type: string; messages: any[] }) => {
      const me = this.opts.mePhone();
      const list = u.messages.map((m) => this.opts.messageOf(m, me)).filter((m): m is EngineMessage => m !== undefined);
      if (list.length) return this.opts.store()!.addMessages(list, { unread: u.type === "notify" });
    });
    on("messages.update", (ups: any[]) => this.onMessageUpdates(ups));
    on("messages.delete", (d: { keys?: any[] }) => {
      for (const k of d.keys ?? []) {
        const chat = chatIdOf(k.remoteJid);
        if (chat && k.id) void this.opts.store()!.removeMessage(chat, k.id);
      }
    });
    on("messages.reaction", (rs: any[]) => {
      for (const r of rs) {
        const chat = chatIdOf(r.key?.remoteJidAlt?.endsWith("@s.whatsapp.net") ? r.key.remoteJidAlt : r.key?.remoteJid);
        const by = r.reaction?.key;
        if (!chat || !r.key?.id || !by) continue;
        const from = by.fromMe ? `${this.opts.mePhone()}@c.us` : (personIdOf(by.participant || by.remoteJid || "") ?? "");
        void this.opts.store()!.updateMessage(chat, r.key.id, (m) => {
          const others = (m.reactions ?? []).filter((x) => x.from !== from);
          const text = r.reaction.text ?? "";
          m.reactions = text ? [...others, { from, emoji: text }] : others;
          if (!m.reactions.length) delete m.reactions;
        });
      }
    });
    on("chats.upsert", (chats: any[]) => this.onChats(chats));
    on("chats.update", (chats: any[]) => this.onChats(chats));
    on("chats.delete", (ids: string[]) => {
      for (const id of ids) {
        const chat = chatIdOf(id);
        if (chat) void this.opts.store()!.deleteChat(chat);
      }
    });
    const contacts = (list: any[]) =>
      this.opts.store()!.updateContacts(
        list.map((c) => ({ id: c.phoneNumber && String(c.id).endsWith("@lid") ? c.phoneNumber : c.id, lid: c.lid ?? (String(c.id).endsWith("@lid") ? c.id : undefined), name: c.name, notify: c.notify })),
      );
    on("labels.edit", (l: { id: string; name?: string; color?: number; deleted?: boolean }) =>
      this.opts.store()!.editLabel({ id: String(l.id), name: l.name ?? "", color: LABEL_PALETTE[Number(l.color ?? 0) % LABEL_PALETTE.length] ?? LABEL_PALETTE[0], deleted: l.deleted === true }),
    );
    on("labels.association", async (a: { type: "add" | "remove"; association: { type: string; chatId: string; labelId: string } }) => {
      if (a.association?.type !== "label_jid") return;
      const chat = chatIdOf(a.association.chatId);
      if (!chat) return;
      const on = a.type === "add";
      if (await this.opts.store()!.labelChat(chat, String(a.association.labelId), on)) this.opts.onChatLabel(chat, String(a.association.labelId), on);
    });
    on("contacts.upsert", contacts);
    on("contacts.update", contacts);
  }

  private async onHistory(h: { chats?: any[]; contacts?: any[]; messages?: any[] }): Promise<void> {
    const store = this.opts.store()!;
    const me = this.opts.mePhone();
    // history sync lists each chat's messages newest first: stored oldest first, so those of one second keep their order
    const messages = (h.messages ?? [])
      .map((m) => this.opts.messageOf(m, me))
      .filter((m): m is EngineMessage => m !== undefined)
      .reverse();
    if (h.contacts?.length) await store.updateContacts(h.contacts.map((c) => ({ id: c.phoneNumber && String(c.id).endsWith("@lid") ? c.phoneNumber : c.id, lid: c.lid, name: c.name, notify: c.notify })));
    if (messages.length) await store.addMessages(messages);
    for (const c of h.chats ?? []) {
      const id = chatIdOf(c.id);
      if (!id) continue;
      await store.updateChat(id, { name: id.endsWith("@g.us") ? (c.name ?? null) : null, unread: typeof c.unreadCount === "number" ? c.unreadCount : null, t: Number(c.conversationTimestamp) || undefined });
    }
  }

  private onChats(chats: any[]): void {
    for (const c of chats) {
      const id = chatIdOf(c.id);
      if (!id) continue;
      // a chat marked read elsewhere: 0 (Baileys' positive counts are increments its messages already made)
      const unread = c.unreadCount === 0 ? 0 : null;
      const name = id.endsWith("@g.us") && typeof c.name === "string" ? c.name : null;
      if (unread === null && !name) continue;
      void this.opts.store()!.updateChat(id, { unread, name });
    }
  }

  private onMessageUpdates(ups: any[]): void {
    const REVOKE = loadBaileys().WAMessageStubType.REVOKE;
    for (const u of ups) {
      const chat = chatIdOf(u.key?.remoteJidAlt?.endsWith("@s.whatsapp.net") ? u.key.remoteJidAlt : u.key?.remoteJid);
      const id = u.key?.id;
      if (!chat || !id) continue;
      const edited = u.update?.message?.editedMessage?.message;
      const status = u.update?.status;
      if (edited) {
        const body = edited.conversation || edited.extendedTextMessage?.text || "";
        void this.opts.store()!.updateMessage(chat, id, (m) => {
          m.body = body;
          m.edited = true;
        });
      } else if (u.update?.messageStubType === REVOKE && u.update.message === null) {
        void this.opts.store()!.updateMessage(chat, id, (m) => {
          m.body = "";
          m.revoked = true;
          delete m.media;
        });
      } else if (typeof status === "number" && ACKS[status]) {
        const ack = ACKS[status];
        if (ack === "PENDING") continue;
        void this.opts.store()!.updateMessage(chat, id, (m) => {
          if (!m.fromMe) return;
          if (ack === "ERROR" || ACKS.indexOf(ack) > ACKS.indexOf(m.ack ?? "PENDING")) m.ack = ack;
        });
      }
    }
  }
}
