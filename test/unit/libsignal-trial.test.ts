// Two Signal parties (npm libsignal, stores that keep records serialized, as real stores do) start a
// session with each other at the same moment and then keep writing both ways. Each record then holds
// two sessions, and a message for one of them is first tried on the other: that trial must leave the
// session it failed on untouched, or the next message encrypted with it fails with "Bad MAC".
import { trialDecryptOnCopies } from "../../lib/whatsapp/libsignal-trial";
import { quietLibsignal } from "../../lib/whatsapp/quiet-signal";
import { signalParty } from "../helpers/signal-party";

it("decrypts every message both ways after both parties started a session at the same moment", async () => {
  quietLibsignal();
  trialDecryptOnCopies();
  const errors = jest.spyOn(console, "error").mockImplementation(() => {});
  jest.spyOn(console, "warn").mockImplementation(() => {});
  const alice = signalParty("alice");
  const bob = signalParty("bob");
  // each fetched the other's bundle before either message arrived
  await alice.start(bob.address, bob.bundle(7));
  await bob.start(alice.address, alice.bundle(9));
  const heard: string[] = [];
  for (let round = 0; round < 6; round++) {
    const a = await alice.encrypt(bob.address, `a${round}`);
    const b = await bob.encrypt(alice.address, `b${round}`);
    heard.push(await bob.decrypt(alice.address, a), await alice.decrypt(bob.address, b));
  }
  expect(heard).toEqual([0, 1, 2, 3, 4, 5].flatMap((r) => [`a${r}`, `b${r}`]));
  expect(errors).not.toHaveBeenCalled();
});
