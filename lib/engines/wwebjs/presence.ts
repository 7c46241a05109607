// Contacts' chat states (typing, recording, paused) on the wwebjs engine. whatsapp-web.js 1.34.7
// emits no event for them, but WhatsApp Web keeps them in its store: WAWebPresenceCollection holds
// a Presence model per contact whose `chatstate.type` its presence handler updates (typing,
// recording_audio, then available or unavailable), and only for contacts it has a model for. The
// engine watches those models through the library's page (an exposed function and a listener, as
// the library itself hooks WhatsApp Web for its own events, and as WAHA's WEBJS engine reads
// presences), and gives every person chat a model.
import type { Page } from "puppeteer";
import type { PresenceState } from "../capabilities";

const BINDING = "wafleetOnChatState";
declare const window: any;

/** Pages whose binding is in place (it survives the library's re-injections of the same page). */
const bound = new WeakSet<Page>();

/**
 * Starts watching `page`'s presences (again after a reload: the listeners live in the page);
 * false when this WhatsApp Web has no presence collection.
 */
export async function watchChatStates(page: Page, onState: (chatId: string, state: PresenceState) => void): Promise<boolean> {
  if (!bound.has(page)) {
    await page.exposeFunction(BINDING, (chatId: unknown, state: unknown) => {
      if (typeof chatId === "string" && (state === "typing" || state === "recording" || state === "paused")) onState(chatId, state);
    });
    bound.add(page);
  }
  return page.evaluate((binding: string) => {
    const w = window;
    if (w.__wafleetChatStates) return true;
    const presences = w.require("WAWebPresenceCollection")?.PresenceCollection;
    if (!presences || typeof presences.gadd !== "function") return false;
    w.__wafleetChatStates = true;
    const watch = (p: any) => {
      const cs = p?.chatstate;
      if (!cs || typeof cs.on !== "function") return;
      const id: string = p.id._serialized;
      let last: string | undefined = cs.type;
      cs.on("change:type", () => {
        const type: string | undefined = cs.type;
        const before = last;
        last = type;
        // typing and recording_audio are shown; leaving either (available, unavailable) is a pause
        const state = type === "typing" ? "typing" : type === "recording_audio" ? "recording" : before === "typing" || before === "recording_audio" ? "paused" : undefined;
        if (state) w[binding](id, state);
      });
    };
    presences.getModelsArray().forEach(watch);
    presences.on("add", watch);
    // a person's chat gets a presence model, so WhatsApp Web keeps (and this engine hears) their chat state
    const { Chat } = w.require("WAWebCollections");
    const track = (chat: any) => {
      const server = chat?.id?.server;
      if (server === "c.us" || server === "lid") presences.gadd(chat.id);
    };
    Chat.getModelsArray().forEach(track);
    Chat.on("add", track);
    return true;
  }, BINDING);
}
