// The session's auth/ folder as engines write it: atomically (temp file + rename, so a crash leaves
// the old file or the new one, never a torn one), and emptied on logout without removing the folder.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

export async function writeFileAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await fs.writeFile(tmp, text, { mode });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Removes everything inside `dir` (the folder stays); a missing folder is empty. */
export async function clearDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (err: any) {
    if (err?.code === "ENOENT") return;
    throw err;
  }
  await Promise.all(entries.map((e) => fs.rm(path.join(dir, e), { recursive: true, force: true, maxRetries: 3 })));
}

export async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
