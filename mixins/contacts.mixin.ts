// Contacts (capability contacts): the address book, one contact (phone, LID, names, business flag,
// about, picture), a batch check of phone numbers, block and unblock; answered by the session's owner.
import type { Context } from "moleculer";
import { WafleetError } from "../lib/errors";
import { checkContactsParams, contactRef, listContactsParams, PAGE_LIMIT_DEFAULT } from "../lib/sessions/params";
import { canonicalChatId } from "../lib/whatsapp";
import { ROUTED, type Ref, type SessionsMixin } from "./workspace.mixin";

type ContactRef = Ref & { contactId: string };

const notFound = (contactId: string) => new WafleetError("CONTACT_NOT_FOUND", `No contact ${contactId}`, { contactId });

async function setBlocked(this: any, ctx: Context<ContactRef>, blocked: boolean) {
  const { workspaceId, sessionId } = ctx.params;
  const contactId = canonicalChatId(ctx.params.contactId);
  const actor = await this.owned(workspaceId, sessionId);
  const ok = await actor.withCapability("contacts", (e: any) => e.setBlocked(contactId, blocked));
  if (!ok) throw notFound(contactId);
  return { contactId, blocked };
}

export const ContactsMixin: SessionsMixin = {
  actions: {
    listContacts: {
      ...ROUTED,
      params: listContactsParams,
      async handler(ctx: Context<Ref & { limit?: number; cursor?: string }>) {
        const { workspaceId, sessionId, cursor } = ctx.params;
        const scope = { workspaceId, sessionId, kind: "contacts" };
        const before = cursor === undefined ? undefined : this.cursors.decode(scope, cursor);
        const actor = await this.owned(workspaceId, sessionId);
        const page = await actor.withCapability("contacts", (e) => e.listContacts!({ limit: ctx.params.limit ?? PAGE_LIMIT_DEFAULT, before }));
        return { items: page.items, nextCursor: page.next === undefined ? null : this.cursors.encode(scope, page.next) };
      },
    },
    getContact: {
      ...ROUTED,
      params: contactRef,
      async handler(ctx: Context<ContactRef>) {
        const { workspaceId, sessionId } = ctx.params;
        const contactId = canonicalChatId(ctx.params.contactId);
        const actor = await this.owned(workspaceId, sessionId);
        const contact = await actor.withCapability("contacts", (e) => e.getContact!(contactId));
        if (!contact) throw notFound(contactId);
        return contact;
      },
    },
    checkContacts: {
      ...ROUTED,
      params: checkContactsParams,
      async handler(ctx: Context<Ref & { phones: string[] }>) {
        const { workspaceId, sessionId } = ctx.params;
        const phones = ctx.params.phones.map((p) => p.replace(/^\+/, ""));
        const actor = await this.owned(workspaceId, sessionId);
        const results = await actor.withCapability("contacts", (e) => e.checkPhones!(phones));
        return { items: results };
      },
    },
    blockContact: {
      ...ROUTED,
      params: contactRef,
      handler(ctx: Context<ContactRef>) {
        return setBlocked.call(this, ctx, true);
      },
    },
    unblockContact: {
      ...ROUTED,
      params: contactRef,
      handler(ctx: Context<ContactRef>) {
        return setBlocked.call(this, ctx, false);
      },
    },
  },
};
