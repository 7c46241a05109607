// The fake page's contacts family: the Contact collection synced from the network at login and
// found on demand (Contact.find), number lookups (WAWebQueryExistsJob), LID <-> phone
// (WAWebApiContact), the contact getters whatsapp-web.js serialises a contact with
// (WAWebContactGetters, WAWebFrontendContactGetters), the block list and block actions
// (WAWebBlockContactUtils, WAWebBlockContactAction), about (WAWebContactStatusBridge) and the
// profile picture (WAWebContactProfilePicThumbBridge). Every answer comes from the simulated
// network's `query` frames. Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installContacts(page: FakePage): void {
  const { Model, Collection, createWid } = page;
  const Contact = page.Contact;
  const Blocklist = new Collection(Model) as any;
  /** `<phone>@c.us` -> `<lid>@lid`, and back, as the network told them */
  const lidOfPhone = new Map<string, string>();
  const phoneOfLid = new Map<string, string>();

  const remember = (phoneId: string, lid: string | null | undefined) => {
    if (!lid) return;
    const l = lid.endsWith("@lid") ? lid : `${lid}@lid`;
    lidOfPhone.set(phoneId, l);
    phoneOfLid.set(l, phoneId);
  };

  /** A network contact card as WhatsApp Web's Contact model (created or refreshed). */
  function contactModel(c: any) {
    const wid = createWid(c.id);
    remember(wid._serialized, c.lid);
    const attrs = { id: wid, name: c.name ?? undefined, pushname: c.pushname, isBusiness: c.isBusiness, isEnterprise: false, type: "in", isContactBlocked: c.blocked };
    let m = Contact.get(wid);
    if (m) m.set(attrs, { silent: true });
    else m = Contact.add(new Model(attrs));
    m.__about = c.about;
    m.__pictureUrl = c.pictureUrl;
    if (c.blocked) Blocklist.add(new Model({ id: wid }));
    else {
      const b = Blocklist.get(wid);
      if (b) Blocklist.remove(b);
    }
    return m;
  }

  /** WhatsApp Web finds any contact, known or not; here the network says who it is. */
  Contact.find = async (id: any) => {
    const key = typeof id === "string" ? id : id._serialized;
    const c = await page.query({ op: "contact", id: key });
    if (c) return contactModel(c);
    // not on WhatsApp: a bare contact, as WhatsApp Web makes one for any id
    return Contact.get(key) ?? new Model({ id: createWid(key), isBusiness: false, isEnterprise: false, type: "in" });
  };

  // the address book, as WhatsApp Web syncs it at login
  page.onReady.push(async () => {
    let after: string | undefined;
    for (;;) {
      const got = await page.query({ op: "contacts", limit: 100, ...(after !== undefined ? { after } : {}) });
      if (!got) return;
      for (const c of got.items) contactModel(c);
      if (got.next === undefined) return;
      after = got.next;
    }
  });

  const isMe = (c: any) => !!page.me && c.id._serialized === page.me._serialized;
  Object.assign(page.modules.WAWebCollections, { Blocklist, BusinessProfile: { find: async (wid: any) => new Model({ id: createWid(wid) }) } });
  Object.assign(page.modules, {
    WAWebQueryExistsJob: {
      queryWidExists: async (widLike: any) => {
        const wid = createWid(widLike);
        if (wid.isLid()) {
          const c = await page.query({ op: "contact", id: wid._serialized });
          if (!c) return null;
          remember(c.id, c.lid);
          return { wid: createWid(c.id) };
        }
        const [r] = await page.query({ op: "check", phones: [wid.user] });
        if (!r?.exists) return null;
        remember(r.id, r.lid);
        return { wid: createWid(r.id) };
      },
    },
    WAWebApiContact: {
      getAlternateUserWid: () => null,
      getCurrentLid: (wid: any) => (lidOfPhone.has(wid._serialized) ? createWid(lidOfPhone.get(wid._serialized)) : undefined),
      getPhoneNumber: (wid: any) => (phoneOfLid.has(wid._serialized) ? createWid(phoneOfLid.get(wid._serialized)) : undefined),
    },
    WAWebContactGetters: {
      getIsMe: isMe,
      getIsUser: (c: any) => c.id.isUser(),
      getIsGroup: (c: any) => c.id.isGroup(),
      getIsWAContact: () => true,
      getUserid: (c: any) => c.id.user,
      getVerifiedName: () => undefined,
      getVerifiedLevel: () => undefined,
      getStatusMute: () => false,
      getName: (c: any) => c.name,
      getShortName: (c: any) => c.name?.split(" ")[0],
      getPushname: (c: any) => c.pushname,
      getIsEnterprise: () => false,
    },
    WAWebFrontendContactGetters: { getIsMyContact: (c: any) => !!c.name },
    WAWebContactStatusBridge: { getStatus: async ({ wid }: { wid: any }) => ({ status: (await Contact.find(wid)).__about ?? null }) },
    WAWebContactProfilePicThumbBridge: {
      requestProfilePicFromServer: async (chat: any) => {
        const url = (await Contact.find(chat.id))?.__pictureUrl;
        return url ? { eurl: url } : undefined;
      },
    },
    WAWebBlockContactUtils: { getContactToBlockOnlyUseIfNoAssociatedChat: (contact: any) => contact },
    WAWebBlockContactAction: {
      blockContact: async ({ contact }: { contact: any }) => {
        await page.query({ op: "block", id: contact.id._serialized, blocked: true });
        contact.set({ isContactBlocked: true });
        Blocklist.add(new Model({ id: contact.id }));
      },
      unblockContact: async (contact: any) => {
        await page.query({ op: "block", id: contact.id._serialized, blocked: false });
        contact.set({ isContactBlocked: false });
        const b = Blocklist.get(contact.id);
        if (b) Blocklist.remove(b);
      },
    },
  });
}
