// A stopped baileys engine leaves nothing behind: in its own process (dist/), back from its auth
// folder, after a message each way and stop(), the process ends by itself (no socket, interval or
// timer of the engine or of Baileys keeps it alive), the network sees no connection of the device,
// and a message sent to the account afterwards waits in the network while no byte of auth/baileys
// or of its store (auth/store) changes. (Linking happens in a first process: Baileys' first prekey upload leaves a 30 s timeout of
// its own behind, docs/engines.md; a device coming back finds its keys on the server and uploads none.)
import { promises as fs } from "node:fs";
import path from "node:path";
import { NodeProcess, tempDir, waitFor } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ME = "15550007001";
const CONTACT = "4915100007002";
let sim: TestSim;
let root: string;

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("baileys-stop");
});

afterAll(async () => {
  await sim?.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await fs.readdir(dir)) {
    const st = await fs.stat(path.join(dir, name));
    out[name] = `${st.size}:${st.mtimeMs}:${st.ino}`;
  }
  return out;
}

it("ends its process by itself after stop(), with no connection left and no write to auth/baileys", async () => {
  const authDir = path.join(root, "auth");
  const env = { SIM_URL: sim.url, AUTH_DIR: authDir, CONTACT, ...(process.env.DEBUG_HANDLES ? { DEBUG_HANDLES: "1" } : {}) };
  const linker = new NodeProcess("baileys-link", "test/helpers/baileys-stop-child.cjs", { ...env, MODE: "link" });
  try {
    const [, qrLine] = await linker.waitForOutput(/\{"qr":("[^"]+")\}/, 30000);
    expect((await sim.post("/sim/link", { qr: JSON.parse(qrLine!), phone: ME })).status).toBe(200);
    await linker.waitForOutput(/"stopped":true/, 30000);
  } finally {
    await linker.kill("SIGKILL");
  }
  const child = new NodeProcess("baileys-stop", "test/helpers/baileys-stop-child.cjs", env);
  try {
    await child.waitForOutput(/"ready":"15550007001"/, 30000);
    expect(child.output).not.toMatch(/"qr"/);
    expect((await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "hello" })).status).toBe(202);
    // (the process may end as soon as it printed it: the output is what counts)
    await waitFor("the engine stopped", () => {
      if (/"stopped":true/.test(child.output)) return true;
      if (!child.running) throw new Error(`baileys-stop exited before stopping its engine:\n${child.output.slice(-3000)}`);
      return undefined;
    }, 30000);
    expect(child.output).toMatch(/"sent":"/);
    const before = await files(path.join(authDir, "baileys"));
    // the engine's store of chats and messages, next to it: the message each way is in it
    const storeBefore = await files(path.join(authDir, "store"));
    expect(Object.keys(storeBefore)).toEqual(expect.arrayContaining(["chats.json", "messages"]));
    const messagesBefore = await files(path.join(authDir, "store", "messages"));
    expect(Object.keys(before)).toEqual(expect.arrayContaining(["creds.json", "keys-session.json"]));
    // nothing keeps the process alive: it exits 0 on its own (undici's idle keep-alive socket of the
    // endpoint lookup closes after 4 s; the bound only keeps a broken run from hanging the suite,
    // and is below Baileys' 30 s upload timeout, so an upload at login would fail it)
    const code = await waitFor("the process to end by itself", async () => (child.running ? undefined : child.child.exitCode), 20000, 100).catch((err: Error) => {
      throw new Error(`${err.message}\n${child.output.slice(-3000)}`);
    });
    expect(code).toBe(0);
    expect((await sim.get("/sim/stats")).json.linkedConnections).toBe(0);
    // a message to the account now waits in the network: nobody takes it, nothing is written
    expect((await sim.post(`/sim/contacts/${CONTACT}/send`, { to: ME, body: "after the stop" })).status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    expect((await sim.get("/sim/stats")).json.queued).toBe(1);
    expect(await files(path.join(authDir, "baileys"))).toEqual(before);
    expect(await files(path.join(authDir, "store"))).toEqual(storeBefore);
    expect(await files(path.join(authDir, "store", "messages"))).toEqual(messagesBefore);
  } finally {
    await child.kill("SIGKILL");
  }
}, 90000);
