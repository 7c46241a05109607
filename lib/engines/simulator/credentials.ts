// The simulator engine's credentials in the session's auth/ folder: what the network gave the
// device when it was linked (`creds.json`), read back to resume without a QR.
import { readJsonFile } from "../../json-file";
import type { SimCredentials } from "../../simulator/protocol";

export const CREDS_FILE = "creds.json";

export function isCreds(value: unknown): value is SimCredentials {
  const c = value as Record<string, unknown> | null;
  return typeof c === "object" && c !== null && typeof c.deviceId === "string" && typeof c.secret === "string" && typeof c.phone === "string";
}

/** The stored credentials, or undefined if the session was never linked (or the file is not ours). */
export async function readCreds(file: string): Promise<SimCredentials | undefined> {
  const creds = await readJsonFile<unknown>(file, () => undefined);
  return isCreds(creds) ? { deviceId: creds.deviceId, secret: creds.secret, phone: creds.phone } : undefined;
}
