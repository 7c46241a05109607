// The fake page's labels family (WhatsApp Business): WAWebCollections.Label (what
// whatsapp-web.js's getLabels / getLabelById read), each chat's `labels` attribute (getChatLabels),
// and Label.addOrRemoveLabels (the client's addOrRemoveLabels), answered as `chat_label` queries to
// the simulated network. A business account (Conn.platform "smba") syncs its labels at login and
// hears the phone's changes as `label_defs` and `label` updates. Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installLabels(page: FakePage): void {
  const { Model, Collection, createWid } = page;
  const Label = new Collection(Model) as any;
  const Conn = page.modules.WAWebConnModel.Conn;

  const define = (labels: Array<{ id: string; name: string; color: string }>) => {
    for (const l of labels) {
      const known = Label.get(l.id);
      if (known) known.set({ name: l.name, hexColor: l.color });
      else Label.add(new Model({ id: l.id, name: l.name, hexColor: l.color }));
    }
  };

  /** The chat's labels become `ids` (a new array, so `change:labels` fires as in WhatsApp Web). */
  const setChatLabels = (chat: any, ids: string[]) => chat.set({ labels: [...ids] });

  Label.addOrRemoveLabels = async (actions: Array<{ id: string | number; type: "add" | "remove" }>, chats: any[]) => {
    for (const chat of chats) {
      const now = new Set<string>((chat.labels ?? []).map(String));
      for (const a of actions) {
        const labelId = String(a.id);
        const r = await page.query({ op: "chat_label", chatId: chat.id._serialized, labelId, on: a.type === "add" });
        if (r !== "ok") throw new Error(`the network refused label ${labelId} on ${chat.id._serialized}: ${r}`);
        if (a.type === "add") now.add(labelId);
        else now.delete(labelId);
      }
      setChatLabels(chat, [...now]);
    }
  };

  page.onReady.push(async () => {
    if (Conn.platform !== "smba") return;
    const state = await page.query({ op: "label_state" });
    if (!state) return;
    define(state.labels);
    for (const [chatId, ids] of Object.entries(state.chats as Record<string, string[]>)) setChatLabels(page.chatFor(createWid(chatId)), ids);
  });

  const previous = page.frames.update;
  page.frames.update = async (f: any) => {
    const u = f.update;
    if (u?.kind === "label_defs") return define(u.labels);
    if (u?.kind !== "label") return previous?.(f);
    const chat = page.chatFor(createWid(u.chatId));
    const ids = new Set<string>((chat.labels ?? []).map(String));
    if (u.on) ids.add(u.labelId);
    else ids.delete(u.labelId);
    setChatLabels(chat, [...ids]);
  };

  page.modules.WAWebCollections.Label = Label;
}
