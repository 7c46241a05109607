// Phone numbers and WhatsApp ids as the simulated network accepts them: digits only (5–20),
// an optional leading `+` stripped; a jid is `<digits>@c.us`. Anything else is rejected, because
// phones become map keys and ledger entries and must compare equal however they were written.

const PHONE = /^\d{5,20}$/;

/** The canonical phone (digits only), or undefined if `value` is not a phone number. */
export function parsePhone(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const digits = value.startsWith("+") ? value.slice(1) : value;
  return PHONE.test(digits) ? digits : undefined;
}

/** The phone of a user jid (`<digits>@c.us`) or of a bare phone number; undefined otherwise (groups, garbage). */
export function parseUserJid(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const at = value.indexOf("@");
  if (at === -1) return parsePhone(value);
  return value.slice(at) === "@c.us" ? parsePhone(value.slice(0, at)) : undefined;
}
