// The fake page's presence family: WAWebPresenceCollection, WhatsApp Web's Presence models (one per
// contact, with a `chatstate` model whose `type` is typing, recording_audio, available or
// unavailable). As WhatsApp Web's presence handler does, a contact's chat state from the network
// changes the Presence model of that contact only if the page has one (a model is made with
// `gadd`, e.g. when a chat is opened). whatsapp-web.js 1.34.7 itself never reads them; the wwebjs
// engine watches them (lib/engines/wwebjs/presence.ts). Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installPresence(page: FakePage): void {
  const { Model, Collection, createWid } = page;
  const PresenceCollection = new Collection(Model) as any;
  /** WhatsApp's chat state names as WhatsApp Web's chatstate types ("paused": online, no longer typing) */
  const TYPES: Record<string, string> = { typing: "typing", recording: "recording_audio", paused: "available" };

  PresenceCollection.gadd = (id: any) => {
    const wid = createWid(id);
    return PresenceCollection.get(wid) ?? PresenceCollection.add(new Model({ id: wid, isOnline: false, chatstate: new Model({ type: "unavailable" }) }));
  };

  page.presence = (u: { from: string; state: string }) => {
    const presence = PresenceCollection.get(createWid(u.from));
    if (!presence) return; // no model for that contact: WhatsApp Web drops it too
    const type = TYPES[u.state];
    if (!type) return;
    presence.set({ isOnline: true });
    presence.chatstate.set({ type, updateTime: Date.now() });
  };

  page.modules.WAWebPresenceCollection = { PresenceCollection };
}
