// The baileys engine's contacts capability: who the account knows comes from the engine's store
// (history sync, app-state contacts, push names, chats); what only WhatsApp's server knows is asked
// with Baileys' own calls: `onWhatsApp` (usync contact) and its LID mapping for checkPhones, and for
// one contact `fetchStatus` (about), `getBusinessProfile` (the business flag), `profilePictureUrl`
// and `fetchBlocklist`; `updateBlockStatus` blocks. A list carries what the device knows (names,
// LID, blocked) without asking the server about each person.
import { parseId, parsePhone } from "../../whatsapp";
import type { ContactInfo, EnginePage, PageQuery, PhoneCheck } from "../capabilities";
import { EngineError } from "../errors";
import type { BaileysStore } from "./store";
import { contactInfoOf } from "./store";

export interface BaileysContactsOptions {
  /** The ready socket (throws SESSION_NOT_READY otherwise) */
  sock: () => any;
  store: () => BaileysStore;
}

const pnJid = (phone: string) => `${phone}@s.whatsapp.net`;

export class BaileysContacts {
  constructor(private readonly opts: BaileysContactsOptions) {}

  async listContacts(q: PageQuery): Promise<EnginePage<ContactInfo>> {
    if (q.before !== undefined && !/^\d{1,24}@(c\.us|lid)$/.test(q.before)) throw new EngineError("VALIDATION_ERROR", "Invalid cursor");
    const sock = this.opts.sock();
    const page = await this.opts.store().listContacts(q);
    const blocked = await this.blocklist(sock);
    return { items: page.items.map((c) => ({ ...contactInfoOf(c), blocked: isBlocked(blocked, c.id, c.lid) })), ...(page.next ? { next: page.next } : {}) };
  }

  /** A contact the account knows (by `<phone>@c.us`, a phone, or its `<lid>@lid`), with what WhatsApp tells of them. */
  async getContact(contactId: string): Promise<ContactInfo | undefined> {
    const sock = this.opts.sock();
    const id = parseId(contactId);
    if (id?.kind !== "user" && id?.kind !== "lid") throw new EngineError("VALIDATION_ERROR", `Not a contact id: ${JSON.stringify(contactId)}`);
    let phone = id.kind === "user" ? id.user : undefined;
    const store = this.opts.store();
    let known = await store.getContact(phone ? `${phone}@c.us` : `${id.user}@lid`);
    if (!known && !phone) {
      // a LID the store has not seen with its phone: Baileys' LID mapping may know it
      const pn = await this.call("resolve a LID", () => sock.signalRepository.lidMapping.getPNForLID(`${id.user}@lid`));
      phone = pn ? String(pn).split(/[:@]/)[0] : undefined;
      if (phone) known = await store.getContact(`${phone}@c.us`);
    }
    if (!known) return undefined;
    phone ??= known.id.endsWith("@c.us") ? known.id.split("@")[0] : undefined;
    const info = contactInfoOf(known);
    if (!phone) return { ...info, blocked: isBlocked(await this.blocklist(sock), known.id, known.lid) };
    const jid = pnJid(phone);
    const [lid, status, business, pictureUrl, blocked] = await Promise.all([
      info.lid ?? this.lidOf(sock, phone),
      this.call("fetch the about text", () => sock.fetchStatus(jid)),
      this.call("fetch the business profile", () => sock.getBusinessProfile(jid)),
      sock.profilePictureUrl(jid, "preview").catch((err: any) => {
        if (err?.output?.statusCode === 404 || err?.data === 404 || /item-not-found|not-authorized/.test(String(err?.message))) return null;
        throw new EngineError("ENGINE_ERROR", `WhatsApp did not give the profile picture: ${err?.message}`);
      }),
      this.blocklist(sock),
    ]);
    const about = (status as any[] | undefined)?.[0]?.status?.status;
    return { ...info, lid: lid ?? null, about: typeof about === "string" && about ? about : null, isBusiness: Boolean(business), pictureUrl: pictureUrl ?? null, blocked: isBlocked(blocked, known.id, lid ?? known.lid) };
  }

  /** Whether each phone is on WhatsApp, with its id and LID. */
  async checkPhones(phones: string[]): Promise<PhoneCheck[]> {
    const sock = this.opts.sock();
    const valid = phones.map((p) => parsePhone(p));
    const asked = [...new Set(valid.filter((p): p is string => p !== undefined))];
    const found: Array<{ jid: string; exists: boolean }> = asked.length ? ((await this.call("check the phones", () => sock.onWhatsApp(...asked.map(pnJid)))) ?? []) : [];
    const on = new Set(found.filter((r) => r.exists).map((r) => String(r.jid).split(/[:@]/)[0]));
    return Promise.all(
      phones.map(async (input, i) => {
        const phone = valid[i];
        if (!phone || !on.has(phone)) return { phone: phone ?? String(input), exists: false, id: null, lid: null };
        return { phone, exists: true, id: `${phone}@c.us`, lid: (await this.lidOf(sock, phone)) ?? null };
      }),
    );
  }

  /** Blocks or unblocks a contact the account knows; false for one it does not. */
  async setBlocked(contactId: string, blocked: boolean): Promise<boolean> {
    const sock = this.opts.sock();
    const id = parseId(contactId);
    if (id?.kind !== "user") throw new EngineError("VALIDATION_ERROR", `Cannot block ${JSON.stringify(contactId)}: expected a phone number or <digits>@c.us`);
    if (!(await this.opts.store().getContact(`${id.user}@c.us`))) return false;
    await this.call(blocked ? "block" : "unblock", () => sock.updateBlockStatus(pnJid(id.user), blocked ? "block" : "unblock"));
    return true;
  }

  private async lidOf(sock: any, phone: string): Promise<string | undefined> {
    const lid = await this.call("resolve the LID", () => sock.signalRepository.lidMapping.getLIDForPN(pnJid(phone)));
    return lid ? String(lid).replace(/:\d+@/, "@") : undefined;
  }

  private async blocklist(sock: any): Promise<Set<string>> {
    const list: string[] = (await this.call("fetch the block list", () => sock.fetchBlocklist())) ?? [];
    const ids = list.map((j) => String(j).replace(/:\d+@/, "@").replace(/@s\.whatsapp\.net$/, "@c.us"));
    // WhatsApp names blocked people by LID: their phones too, where Baileys' LID mapping knows them
    const phones = await Promise.all(ids.filter((j) => j.endsWith("@lid")).map((lid) => this.call("resolve a LID", () => sock.signalRepository.lidMapping.getPNForLID(lid))));
    for (const pn of phones) if (pn) ids.push(`${String(pn).split(/[:@]/)[0]}@c.us`);
    return new Set(ids);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError("ENGINE_ERROR", `Baileys could not ${what}: ${(err as Error).message}`);
    }
  }
}

const isBlocked = (blocked: Set<string>, id: string, lid: string | null | undefined) => blocked.has(id) || (!!lid && blocked.has(lid));
