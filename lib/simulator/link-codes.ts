// The secrets a link is made of: QR strings shaped like WhatsApp's (`ref,noisePub,identityPub,advSecret`),
// 8-character pairing codes, and device credentials. All random, so two connections never show the same one.
import { randomBytes, randomInt } from "node:crypto";

const CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export function newQrString(): string {
  // Real refs look like "2@<base64>"; the three keys are 32-byte base64 values.
  const ref = `2@${randomBytes(48).toString("base64")}`;
  return [ref, randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64")].join(",");
}

export function newPairingCode(): string {
  let code = "";
  for (let i = 0; i < 8; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** Pairing codes are shown as `ABCD-EFGH` and typed by humans: accept either case and the dash. */
export function normalizePairingCode(value: string): string {
  return value.replace(/-/g, "").toUpperCase();
}

export function newDeviceId(): string {
  return `dev_${randomBytes(12).toString("hex")}`;
}

export function newDeviceSecret(): string {
  return randomBytes(32).toString("base64url");
}
