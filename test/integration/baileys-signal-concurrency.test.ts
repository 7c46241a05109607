// Signal sessions under concurrent traffic both ways: a Baileys session and a simulated contact write
// to each other at the same moment, again and again, so an encryption for a send and a decryption of
// an incoming message run on the same Signal session at once. Every message must arrive on both sides
// and nothing may be logged as a decryption failure ("Bad MAC", "future messages"): a lost update of
// the session record breaks the ratchet for every later message.
import type { BaileysEngine } from "../../lib/engines/baileys";
import type { EngineMessage } from "../../lib/engines/types";
import { baileysTestNet } from "../helpers/baileys";
import type { BaileysTestNet } from "../helpers/baileys";
import { waitFor } from "../helpers/processes";

jest.setTimeout(120_000);

const CONTACT = "4915100007001";
const ROUNDS = 12;
const BURST = 4;
let net: BaileysTestNet;
const logged: string[] = [];
const simLogged: string[] = [];

beforeAll(async () => {
  // libsignal reports a failed decryption on the console (both sides use it): those count too
  const error = console.error.bind(console);
  jest.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    logged.push(`console: ${args.map(String).join(" ")}`);
    error(...args);
  });
  net = await baileysTestNet("baileys-signal", { log: (level, msg) => void (level !== "info" && simLogged.push(msg)) });
});

afterAll(() => net?.close());

const linked = (phone: string) => net.link(phone, { log: (level, msg) => void (level !== "debug" && logged.push(`${phone}: ${msg}`)) });

const signalErrors = (lines: string[]) => lines.filter((l) => /bad mac|future messages|no matching sessions|failed to decrypt|no session/i.test(l));

/** Sends and receives `ROUNDS` bursts of `BURST` messages each way at once; returns what arrived. */
async function crossfire(engine: BaileysEngine, phone: string): Promise<void> {
  const received: EngineMessage[] = [];
  engine.on("message", (m) => received.push(m));
  let expected = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const sends: Promise<unknown>[] = [];
    for (let k = 0; k < BURST; k++) {
      sends.push(engine.sendMessage(`${CONTACT}@c.us`, { text: `out ${round}.${k}` }));
      sends.push(net.sim.post(`/sim/contacts/${CONTACT}/send`, { to: phone, body: `in ${round}.${k}` }));
    }
    await Promise.all(sends);
    expected += BURST;
  }
  await waitFor(`${expected} messages from the contact (${received.length} so far)`, () => received.length >= expected, 60000);
  expect(received.map((m) => m.body).sort()).toEqual(Array.from({ length: ROUNDS * BURST }, (_, i) => `in ${Math.floor(i / BURST)}.${i % BURST}`).sort());
  const inbox = (await net.sim.get(`/sim/contacts/${CONTACT}/inbox`)).json.messages as { from: string; body: string }[];
  expect(inbox.filter((m) => m.from === `${phone}@c.us`).map((m) => m.body).sort()).toEqual(Array.from({ length: ROUNDS * BURST }, (_, i) => `out ${Math.floor(i / BURST)}.${i % BURST}`).sort());
}

it("keeps one session's Signal ratchet whole when messages cross both ways at once", async () => {
  const phone = "15550007101";
  const engine = await linked(phone);
  await crossfire(engine, phone);
  expect(signalErrors(logged)).toEqual([]);
  expect(signalErrors(simLogged)).toEqual([]);
  expect((await net.sim.get("/sim/stats")).json).toMatchObject({ duplicates: 0, conflicts: 0 });
});

it("keeps every session's ratchet whole when many sessions cross messages with one contact at once", async () => {
  const phones = ["15550007201", "15550007202", "15550007203", "15550007204"];
  const fleet = await Promise.all(phones.map((p) => linked(p)));
  await Promise.all(fleet.map((e, i) => crossfire(e, phones[i]!)));
  expect(signalErrors(logged)).toEqual([]);
  expect(signalErrors(simLogged)).toEqual([]);
});
