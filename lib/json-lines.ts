// Append-only JSON-lines files (the embedded event journal, each session's outbox): reading one back.
import { promises as fs } from "node:fs";
import path from "node:path";

/**
 * The parsed lines of `file`, in order ([] when it does not exist yet; its folder is made, private).
 * A line that does not parse is the torn tail of a write a crash interrupted (that write never
 * resolved, so nobody was told it was durable): it is skipped.
 */
export async function readJsonLines<T>(file: string): Promise<T[]> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let text = "";
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err: any) {
    if (err?.code !== "ENOENT") throw err;
  }
  const lines: T[] = [];
  for (const raw of text.split("\n")) {
    if (!raw) continue;
    try {
      lines.push(JSON.parse(raw) as T);
    } catch {
      continue;
    }
  }
  return lines;
}
