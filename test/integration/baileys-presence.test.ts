// The baileys engine hears a contact's presence (typing, recording, stopping) through the fake
// server's chatstate stanzas, as the `presence` event every engine emits (capability `presence`;
// the capability suite checks the sending side).
import { baileysTestNet, nextEvent } from "../helpers/baileys";
import type { BaileysTestNet } from "../helpers/baileys";

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
