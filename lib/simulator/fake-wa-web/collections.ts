// The fake page's collections family: WAWebCollections (Msg, Chat, Contact), WAWebWidFactory,
// WAWebQueryExistsJob, WAWebFindChatAction, WAWebChatGetters and WAWebSyncGatingUtils: the
// account's chats, contacts and messages as WhatsApp Web keeps them in memory. Runs in the
// browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installCollections(page: FakePage): void {
  const { Model, Collection, createWid } = page;
  const Msg = new Collection(Model) as any;
  const Chat = new Collection(Model) as any;
  const Contact = new Collection(Model) as any;
  page.Msg = Msg;
  page.Chat = Chat;
  page.Contact = Contact;

  /** WhatsApp Web keeps its chat list most recent first: a chat with new activity moves to the top. */
  page.touchChat = (chat: any) => {
    const at = Chat.models.indexOf(chat);
    if (at > 0) {
      Chat.models.splice(at, 1);
      Chat.models.unshift(chat);
    }
  };

  /** The chat with `wid`, created (empty) on first use, as WhatsApp Web opens a new chat. */
  page.chatFor = (wid: any) => {
    let chat = Chat.get(wid);
    if (!chat) chat = Chat.add(new Model({ id: wid, t: 0, unreadCount: 0, archive: false, formattedTitle: wid.user, msgs: new Collection(Model), mute: { expiration: 0 } }));
    // a chat with a person makes them a contact, as in WhatsApp Web
    if (wid.isUser() && !Contact.get(wid)) Contact.add(new Model({ id: wid, type: "in", isBusiness: false, isEnterprise: false }));
    return chat;
  };

  Object.assign(page.modules, {
    WAWebCollections: { Msg, Chat, Contact },
    WAWebSyncGatingUtils: { isPlaceholderMessageResendEnabled: () => false },
    WAWebWidFactory: {
      createWid,
      createWidFromWidLike: createWid,
      createUserWid: (user: string, server = "c.us") => createWid(`${user}@${server}`),
      asUserWidOrThrow: (wid: any) => createWid(wid),
    },
    WAWebQueryExistsJob: { queryWidExists: async (wid: any) => ({ wid: createWid(wid) }) },
    WAWebFindChatAction: { findOrCreateLatestChat: async (wid: any) => ({ chat: page.chatFor(createWid(wid)), created: true }) },
    WAWebChatGetters: { getIsNewsletter: (chat: any) => chat.id.isNewsletter(), getIsBroadcast: (chat: any) => chat.id.isBroadcast() },
  });
}
