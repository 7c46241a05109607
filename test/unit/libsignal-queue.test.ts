// npm libsignal queues the work on one address process-wide and runs a queued job from the loop of
// the job that started the queue. Baileys keeps each socket's key-store transaction in an
// AsyncLocalStorage: a job must read and write in the context of the caller that queued it, or a
// session's new state goes into another, finished transaction and is lost (lib/whatsapp/libsignal-queue.ts).
import { AsyncLocalStorage } from "node:async_hooks";
import { signalJobsKeepCallerContext } from "../../lib/whatsapp/libsignal-queue";

const libsignal = require("libsignal");

it("runs a job queued behind another on the same address in its own caller's async context", async () => {
  signalJobsKeepCallerContext();
  const transaction = new AsyncLocalStorage<string>();
  const seen: Array<string | undefined> = [];
  let release!: () => void;
  const firstHeld = new Promise<void>((resolve) => (release = resolve));
  let reading!: () => void;
  const firstReading = new Promise<void>((resolve) => (reading = resolve));
  // the first job's read waits, so the second is queued behind it (two sessions messaging one contact)
  const storage = {
    getOurIdentity: async () => libsignal.keyhelper.generateIdentityKeyPair(),
    loadSession: async () => {
      seen.push(transaction.getStore());
      if (seen.length === 1) {
        reading();
        await firstHeld;
      }
      return undefined;
    },
  };
  const address = new libsignal.ProtocolAddress("4915100000001", 0);
  const first = transaction.run("first", () => new libsignal.SessionCipher(storage, address).encrypt(Buffer.from("a")));
  const second = transaction.run("second", () => new libsignal.SessionCipher(storage, address).encrypt(Buffer.from("b")));
  await firstReading;
  await new Promise((resolve) => setImmediate(resolve));
  release();
  // (no session on either: both fail after their read, which is all this looks at)
  await Promise.allSettled([first, second]);
  expect(seen).toEqual(["first", "second"]);
});
