// WhatsApp Business labels as WhatsApp keeps them for an account: the labels it made (on the phone)
// and which chats carry each. Only business accounts have labels; the network checks that.
export interface SimLabel {
  id: string;
  name: string;
  /** #rrggbb */
  color: string;
}

export interface LabelsSnapshot {
  accounts: Array<{ phone: string; next: number; labels: SimLabel[]; chats: Record<string, string[]> }>;
}

interface AccountLabels {
  next: number;
  labels: Map<string, SimLabel>;
  /** chatId -> label ids */
  chats: Map<string, Set<string>>;
}

/** WhatsApp Business' palette (the first labels get these colours, in order). */
export const PALETTE = ["#ff9485", "#64c4ff", "#ffd429", "#dfaef0", "#99b6c1", "#55ccb3", "#ff9dff", "#d3a91d", "#6d7cce", "#d7e752"];
export const LABELS_MAX = 20;

export class SimLabels {
  private readonly accounts = new Map<string, AccountLabels>();

  constructor(private readonly onChange: () => void = () => {}) {}

  create(phone: string, name: string, color?: string): SimLabel {
    const a = this.account(phone);
    const label: SimLabel = { id: String(++a.next), name, color: color ?? PALETTE[(a.next - 1) % PALETTE.length] };
    a.labels.set(label.id, label);
    this.onChange();
    return { ...label };
  }

  list(phone: string): SimLabel[] {
    return [...(this.accounts.get(phone)?.labels.values() ?? [])].map((l) => ({ ...l }));
  }

  get(phone: string, labelId: string): SimLabel | undefined {
    const l = this.accounts.get(phone)?.labels.get(labelId);
    return l && { ...l };
  }

  ofChat(phone: string, chatId: string): SimLabel[] {
    const a = this.accounts.get(phone);
    return [...(a?.chats.get(chatId) ?? [])].flatMap((id) => (a!.labels.has(id) ? [{ ...a!.labels.get(id)! }] : []));
  }

  /** Every chat that carries a label, with its label ids. */
  chatsOf(phone: string): Record<string, string[]> {
    const a = this.accounts.get(phone);
    return Object.fromEntries([...(a?.chats ?? [])].filter(([, ids]) => ids.size).map(([c, ids]) => [c, [...ids]]));
  }

  /** Puts the label on the chat or takes it off; true when that changed anything. */
  set(phone: string, chatId: string, labelId: string, on: boolean): boolean {
    const a = this.account(phone);
    let set = a.chats.get(chatId);
    if (!set) a.chats.set(chatId, (set = new Set()));
    const had = set.has(labelId);
    if (had === on) return false;
    if (on) set.add(labelId);
    else set.delete(labelId);
    this.onChange();
    return true;
  }

  snapshot(): LabelsSnapshot {
    return {
      accounts: [...this.accounts].map(([phone, a]) => ({ phone, next: a.next, labels: [...a.labels.values()], chats: Object.fromEntries([...a.chats].map(([c, s]) => [c, [...s]])) })),
    };
  }

  restore(snapshot?: LabelsSnapshot): void {
    this.accounts.clear();
    for (const s of snapshot?.accounts ?? []) {
      this.accounts.set(s.phone, { next: s.next, labels: new Map(s.labels.map((l) => [l.id, l])), chats: new Map(Object.entries(s.chats).map(([c, ids]) => [c, new Set(ids)])) });
    }
  }

  private account(phone: string): AccountLabels {
    let a = this.accounts.get(phone);
    if (!a) this.accounts.set(phone, (a = { next: 0, labels: new Map(), chats: new Map() }));
    return a;
  }
}
