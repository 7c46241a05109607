// WhatsApp Business labels as the phone keeps them in app state, for the fake WhatsApp server: each
// label a `label_edit` mutation (index `["label_edit", id]`, name and palette index) and each labelled
// chat a `label_jid` mutation (index `["label_jid", labelId, "<phone>@s.whatsapp.net"]`, labeled or
// not), both in the `regular` collection. syncLabels writes what changed in the network's record
// (the oracle) since the account's app state last had it; a companion's own `label_jid` patch is
// applied on the network and noted, so it is not written back to it.
import type { SimNetwork } from "../network";
import { PALETTE } from "../labels";

const S_WA = "s.whatsapp.net";

/** What the account's app state says of its labels: label id -> "name|color", and chat|label -> labelled. */
export interface WrittenLabels {
  labels: Map<string, string>;
  chats: Map<string, boolean>;
}

const waJid = (chatId: string) => chatId.replace(/@c\.us$/, `@${S_WA}`);
export const chatIdOfJid = (jid: string) => jid.replace(/@s\.whatsapp\.net$/, "@c.us");
const key = (chatId: string, labelId: string) => `${chatId}|${labelId}`;

/** Writes the labels and chat labels that changed into `state`'s `regular` collection; true if any did. */
export function syncLabels(state: { set(name: "regular", index: string[], value: Record<string, unknown>, apiVersion: number): number }, network: SimNetwork, account: string, written: WrittenLabels): boolean {
  if (network.accounts.profile(account).isBusiness !== true) return false;
  let changed = false;
  for (const l of network.labels.list(account)) {
    const now = `${l.name}|${l.color}`;
    if (written.labels.get(l.id) === now) continue;
    state.set("regular", ["label_edit", l.id], { labelEditAction: { name: l.name, color: Math.max(0, PALETTE.indexOf(l.color)), deleted: false } }, 3);
    written.labels.set(l.id, now);
    changed = true;
  }
  const on = new Set(Object.entries(network.labels.chatsOf(account)).flatMap(([chatId, ids]) => ids.map((id) => key(chatId, id))));
  for (const k of new Set([...on, ...[...written.chats].filter(([, v]) => v).map(([k2]) => k2)])) {
    const labeled = on.has(k);
    if ((written.chats.get(k) ?? false) === labeled) continue;
    const [chatId, labelId] = k.split("|");
    state.set("regular", ["label_jid", labelId, waJid(chatId)], { labelAssociationAction: { labeled } }, 3);
    written.chats.set(k, labeled);
    changed = true;
  }
  return changed;
}

/** A companion labelled a chat (its own patch, already in the app state): noted as written. */
export function noteChatLabel(written: WrittenLabels, chatId: string, labelId: string, labeled: boolean): void {
  written.chats.set(key(chatId, labelId), labeled);
}
