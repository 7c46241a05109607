// The baileys engine hears a contact's presence (typing, recording, stopping) through the fake
// server's chatstate stanzas, as the `presence` event every engine emits (capability `presence`;
// the capability suite checks the sending side).
import { once } from "node:events";
import { promises as fs } from "node:fs";
import path from "node:path";
import { BaileysEngine, simulatedEndpoint } from "../../lib/engines/baileys";
import type { EngineEvents } from "../../lib/engines/types";
import { tempDir } from "../helpers/processes";
import { startTestSim } from "../helpers/sim";
import type { TestSim } from "../helpers/sim";

const ALICE = "15550008001";
const ANA = "4915100008002";
let sim: TestSim;
let root: string;
let engine: BaileysEngine | undefined;

beforeAll(async () => {
  sim = await startTestSim();
  root = await tempDir("baileys-presence");
});

afterAll(async () => {
  await engine?.stop();
  await sim?.close();
  await fs.rm(root, { recursive: true, force: true });
});

const next = <K extends keyof EngineEvents>(event: K) => once(engine!, event, { signal: AbortSignal.timeout(20000) }) as Promise<EngineEvents[K]>;

it("emits presence (chat, state, who) for a contact typing, recording and stopping", async () => {
  engine = new BaileysEngine({ workspaceId: "w", sessionId: "s", authDir: path.join(root, "auth") }, { endpoint: simulatedEndpoint(sim.url), startTimeoutMs: 20000 });
  const qr = next("qr");
  await engine.start();
  const [code] = await qr;
  const ready = next("ready");
  expect((await sim.post("/sim/link", { qr: code, phone: ALICE })).status).toBe(200);
  await ready;
  for (const state of ["typing", "recording", "paused"] as const) {
    const heard = next("presence");
    expect((await sim.post(`/sim/contacts/${ANA}/presence`, { to: ALICE, state })).status).toBe(200);
    expect(await heard).toEqual([`${ANA}@c.us`, state, `${ANA}@c.us`]);
  }
});
