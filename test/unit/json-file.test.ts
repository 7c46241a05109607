// readJsonFile (and its synchronous twin): a missing file is no content, a corrupt one is the caller's decision, any other
// read error is an error.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readJsonFile, readJsonFileSync } from "../../lib/json-file";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "json-file-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const never = () => {
  throw new Error("onCorrupt called");
};

it("reads a file's JSON, and a missing file as undefined", async () => {
  await fs.writeFile(path.join(dir, "a.json"), JSON.stringify({ a: [1, 2] }));
  expect(await readJsonFile(path.join(dir, "a.json"), never)).toEqual({ a: [1, 2] });
  expect(await readJsonFile(path.join(dir, "missing.json"), never)).toBeUndefined();
});

it("hands text that is not JSON to onCorrupt, and returns its answer or its error", async () => {
  const file = path.join(dir, "torn.json");
  await fs.writeFile(file, '{"a": [1, 2');
  const seen: string[] = [];
  expect(await readJsonFile(file, (err) => (seen.push(err.name), { fallback: true }))).toEqual({ fallback: true });
  expect(seen).toEqual(["SyntaxError"]);
  await expect(readJsonFile(file, (err) => Promise.reject(new Error(`corrupt: ${err.name}`)))).rejects.toThrow("corrupt: SyntaxError");
});

it("fails on a read error other than a missing file", async () => {
  await expect(readJsonFile(dir, never)).rejects.toMatchObject({ code: "EISDIR" });
});

it("reads the same way synchronously: JSON, a missing file as undefined, corrupt text to onCorrupt, other errors thrown", async () => {
  await fs.writeFile(path.join(dir, "a.json"), JSON.stringify({ a: [1, 2] }));
  expect(readJsonFileSync(path.join(dir, "a.json"), never)).toEqual({ a: [1, 2] });
  expect(readJsonFileSync(path.join(dir, "missing.json"), never)).toBeUndefined();
  await fs.writeFile(path.join(dir, "torn.json"), '{"a": [1, 2');
  expect(readJsonFileSync(path.join(dir, "torn.json"), (err) => ({ fallback: err.name }))).toEqual({ fallback: "SyntaxError" });
  expect(() => readJsonFileSync(dir, never)).toThrow(expect.objectContaining({ code: "EISDIR" }));
});
