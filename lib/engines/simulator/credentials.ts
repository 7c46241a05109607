// The simulator engine's credentials in the session's auth/ folder: what the network gave the
// device when it was linked (`creds.json`), read back to resume without a QR.
import { readJsonFile, readJsonFileSync } from "../../json-file";
import type { SimCredentials } from "../../simulator/protocol";

export const CREDS_FILE = "creds.json";

export function isCreds(value: unknown): value is SimCredentials {
  const c = value as Record<string, unknown> | null;
  return typeof c === "object" && c !== null && typeof c.deviceId === "string" && typeof c.secret === "string" && typeof c.phone === "string";
}

const credsOf = (value: unknown): SimCredentials | undefined => (isCreds(value) ? { deviceId: value.deviceId, secret: value.secret, phone: value.phone } : undefined);

/** The stored credentials, or undefined if the session was never linked (or the file is not ours). */
export async function readCreds(file: string): Promise<SimCredentials | undefined> {
  return credsOf(await readJsonFile<unknown>(file, () => undefined));
}

/**
 * readCreds(), read synchronously: what an engine's start reads. The file is a hundred bytes, and a
 * failover starts hundreds of engines on a node at once: the asynchronous read is an open, a stat,
 * a read and a close each through libuv's file threads and back to a busy event loop (in a
 * 10,000-session failover's profile, a tenth of the survivors' time in the restore).
 */
export function readCredsSync(file: string): SimCredentials | undefined {
  return credsOf(readJsonFileSync<unknown>(file, () => undefined));
}
