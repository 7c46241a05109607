// What WhatsApp's server tells a companion about people, for the fake WhatsApp server: a person's
// profile picture (`w:profile:picture` on a user), business profile (`w:biz`), their about text (the
// usync `status` protocol, see statusNode), and the account's block list (`blocklist` get and set),
// answered from the network's record of profiles and block lists (the oracle); a block or unblock
// is the network's, answered once it is done.
import type { SimAccounts } from "../accounts";
import { child } from "./wa-binary";
import type { WaNode } from "./wa-binary";

const S_WA = "s.whatsapp.net";

export interface ContactsPort {
  send(node: WaNode): void;
  netQuery(q: Record<string, unknown>, done: (error?: string, data?: unknown) => void): void;
  phoneOf(jid: string): string | undefined;
  lidOf(phone: string): string;
  accounts: SimAccounts;
  /** The account this connection is a device of */
  me(): string | undefined;
}

/** Answers the iq if it is about people (true), else leaves it (false). */
export function onContactIq(node: WaNode, port: ContactsPort): boolean {
  const { id, xmlns, type } = node.attrs;
  const me = port.me();
  const result = (content?: WaNode[]) => port.send({ tag: "iq", attrs: { from: S_WA, type: "result", id }, ...(content ? { content } : {}) });
  const error = (code: string, text: string) => port.send({ tag: "iq", attrs: { from: S_WA, type: "error", id }, content: [{ tag: "error", attrs: { code, text } }] });
  if (xmlns === "w:profile:picture" && type === "get") {
    const phone = port.phoneOf(node.attrs.target ?? "");
    if (!phone) return false;
    const url = port.accounts.onWhatsApp(phone) ? port.accounts.profile(phone).pictureUrl : null;
    if (!url) error("404", "item-not-found");
    else result([{ tag: "picture", attrs: { id: String(Math.abs(hash(url))), type: child(node, "picture")?.attrs.type ?? "preview", url, direct_path: new URL(url).pathname } }]);
    return true;
  }
  if (xmlns === "w:biz" && type === "get") {
    const profile = child(child(node, "business_profile"), "profile");
    const phone = port.phoneOf(profile?.attrs.jid ?? "");
    if (!profile || !phone) return false;
    // a person who is not a business has no business profile: an empty answer
    if (!port.accounts.onWhatsApp(phone) || port.accounts.profile(phone).isBusiness !== true) result([{ tag: "business_profile", attrs: {} }]);
    else result([{ tag: "business_profile", attrs: {}, content: [{ tag: "profile", attrs: { jid: `${phone}@${S_WA}` }, content: [{ tag: "description", attrs: {}, content: Buffer.from(port.accounts.contact(me ?? phone, phone).about ?? "") }] }] }]);
    return true;
  }
  if (xmlns === "blocklist" && me) {
    if (type === "get") {
      result([{ tag: "list", attrs: {}, content: port.accounts.blocked(me).map((p) => ({ tag: "item", attrs: { jid: `${port.lidOf(p)}@lid`, pn_jid: `${p}@${S_WA}` } })) }]);
      return true;
    }
    const item = child(node, "item");
    const phone = port.phoneOf(item?.attrs.pn_jid ?? item?.attrs.jid ?? "");
    if (!item || !phone || (item.attrs.action !== "block" && item.attrs.action !== "unblock")) {
      error("400", "bad-request");
      return true;
    }
    port.netQuery({ op: "block", id: `${phone}@c.us`, blocked: item.attrs.action === "block" }, (err) => (err ? error("500", "internal-server-error") : result()));
    return true;
  }
  return false;
}

/** A user's usync `status` (their about text; 401 when there is none to show), for `phone` on WhatsApp. */
export function statusNode(accounts: SimAccounts, me: string, phone: string): WaNode {
  const about = accounts.contact(me, phone).about;
  return about ? { tag: "status", attrs: { t: "0" }, content: Buffer.from(about) } : { tag: "status", attrs: { code: "401" } };
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h;
}

/**
 * The account's address book as its phone keeps it in app state: a `contact` mutation (index
 * `["contact", "<phone>@s.whatsapp.net"]`, a contactAction with the saved name) in
 * `critical_unblock_low` for each saved name not yet written (`synced`: what was, per phone). True
 * when the collection changed.
 */
export function syncAddressBook(state: { set(name: "critical_unblock_low", index: string[], value: Record<string, unknown>, apiVersion: number): number }, accounts: SimAccounts, account: string, synced: Map<string, string>): boolean {
  let changed = false;
  for (let after: string | undefined, page; (page = accounts.contacts(account, 100, after)).items.length; after = page.next) {
    for (const c of page.items) {
      if (!c.name || synced.get(c.phone) === c.name) continue;
      state.set("critical_unblock_low", ["contact", `${c.phone}@${S_WA}`], { contactAction: { fullName: c.name, firstName: c.name.split(" ")[0], lidJid: `${c.lid}@lid` } }, 2);
      synced.set(c.phone, c.name);
      changed = true;
    }
    if (!page.next) break;
  }
  return changed;
}
