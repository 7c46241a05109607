// The baileys engine hears a contact's presence (typing, recording, stopping) through the fake
// server's chatstate stanzas, as the `presence` event every engine emits (capability `presence`;
// the capability suite checks the sending side). And when the server drops the connection, the
// engine says why it closed.
import { closeCause } from "../../lib/engines/baileys/engine";
import { baileysTestNet, nextEvent } from "../helpers/baileys";
import type { BaileysTestNet } from "../helpers/baileys";
import { waitFor } from "../helpers/processes";

const ALICE = "15550008001";
const ANA = "4915100008002";
let net: BaileysTestNet;

beforeAll(async () => {
  net = await baileysTestNet("baileys-presence");
});

afterAll(() => net?.close());

it("emits presence (chat, state, who) for a contact typing, recording and stopping", async () => {
  const engine = await net.link(ALICE);
  for (const state of ["typing", "recording", "paused"] as const) {
    const heard = nextEvent(engine, "presence", 20000);
    expect((await net.sim.post(`/sim/contacts/${ANA}/presence`, { to: ALICE, state })).status).toBe(200);
    expect(await heard).toEqual([`${ANA}@c.us`, state, `${ANA}@c.us`]);
  }
});

it("names the cause when the connection closes, and reconnects", async () => {
  const BOB = "15550008003";
  const lines: string[] = [];
  const engine = await net.link(BOB, { log: (level, msg) => void lines.push(`${level} ${msg}`) });
  const again = nextEvent(engine, "ready", 30000);
  expect((await net.sim.post(`/sim/accounts/${BOB}/drop`)).json).toEqual({ dropped: true });
  // the network ended the socket under Baileys: its reason and status code, as a warning (it was working)
  await waitFor("the close logged", () => lines.some((l) => /^warn connection closed \(.+\)$/.test(l)), 20000);
  await again;
});

it("closeCause reads Baileys's error and status code", () => {
  const boom = Object.assign(new Error("Connection was lost"), { output: { statusCode: 408 } });
  expect(closeCause(boom, 408)).toBe(" (Connection was lost, 408)");
  expect(closeCause(undefined, 428)).toBe(" (428)");
  expect(closeCause(undefined, undefined)).toBe("");
});
