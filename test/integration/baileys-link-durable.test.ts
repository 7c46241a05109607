// A baileys session is ready (WORKING) only once its link is on disk: a node killed right after a
// link must leave the linked credentials for the survivor that restores the session, or that
// survivor shows a QR (the chaos test's "stuck in SCAN_QR_CODE after a kill", on a busy disk).
import { cpSync, promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import { baileysTestNet, nextEvent } from "../helpers/baileys";
import type { BaileysTestNet } from "../helpers/baileys";

const PHONE = "15550008301";
let net: BaileysTestNet;
const engines: BaileysEngine[] = [];

beforeAll(async () => {
  net = await baileysTestNet("baileys-link-durable");
});

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});

afterAll(() => net?.close());

const engineOn = (authDir: string) => {
  const e = new BaileysEngine({ workspaceId: "w", sessionId: "s", authDir }, { startTimeoutMs: 30000, sendTimeoutMs: 10000, endpoint: simulatedEndpoint(net.sim.url) });
  engines.push(e);
  return e;
};

/** What another process reading the folder now finds: the linked device's id, if any. */
function linkedIdOnDisk(authDir: string): string | undefined {
  try {
    return JSON.parse(readFileSync(path.join(authDir, "baileys", "creds.json"), "utf8"))?.me?.id;
  } catch {
    return undefined;
  }
}

it("announces ready only once the linked creds are on disk, so a node killed then leaves a session restored without a QR", async () => {
  // a busy disk: every replacement of creds.json lands 1.5 s late
  const rename = fs.rename.bind(fs);
  jest.spyOn(fs, "rename").mockImplementation(async (from, to) => {
    if (String(to).endsWith(`${path.sep}creds.json`)) await new Promise((r) => setTimeout(r, 1500));
    return rename(from, to);
  });
  const authDir = path.join(net.root, PHONE);
  const engine = engineOn(authDir);
  const qr = nextEvent(engine, "qr");
  await engine.start();
  const [code] = await qr;
  // what a node killed at the moment of ready leaves behind: the folder as it is then
  const leftBehind = path.join(net.root, `${PHONE}-left-behind`);
  let atReady: string | undefined | null = null;
  engine.once("ready", () => {
    atReady = linkedIdOnDisk(authDir);
    cpSync(authDir, leftBehind, { recursive: true });
  });
  const ready = nextEvent(engine, "ready", 30000);
  expect((await net.sim.post("/sim/link", { qr: code, phone: PHONE })).status).toBe(200);
  await ready;
  expect(atReady).toMatch(new RegExp(`^${PHONE}[:@]`));

  // a survivor restores the session from what the killed node left: no QR
  jest.restoreAllMocks();
  await engine.stop();
  const again = engineOn(leftBehind);
  let qrAgain = false;
  again.on("qr", () => (qrAgain = true));
  const readyAgain = nextEvent(again, "ready", 30000);
  await again.start();
  const [me] = await readyAgain;
  expect(me.phone).toBe(PHONE);
  expect(qrAgain).toBe(false);
}, 90000);
