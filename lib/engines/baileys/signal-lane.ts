// One lane for all of a socket's Signal work. Baileys (7.0.0-rc14) runs each Signal operation in a
// key-store transaction: it reads the records it needs into a cache of its own and writes them back
// when it commits. But its transactions are keyed differently: a send runs in one keyed by the
// account's own id (relayMessage, from its first encryption to after the stanza is written), the
// decryption of an incoming message in one keyed by the sender's jid. The two do not wait for each
// other, so a decryption that reads a contact's session before a send to that contact commits, and
// commits after it, puts back the session as it was before the send: the next message reuses a
// counter the contact has already used up, and the contact cannot decrypt it.
//
// The repository made here runs every operation that reads or writes sessions or sender keys in the
// transaction keyed by the account's own id, the one a send holds: a decryption waits for the send
// under way and a send for the decryption under way. An operation called inside a send (already in
// that transaction) joins it, as Baileys' nested transactions do.

/** The Signal repository operations that read and write session records or sender keys. */
const SIGNAL_OPERATIONS = [
  "decryptMessage",
  "encryptMessage",
  "decryptGroupMessage",
  "encryptGroupMessage",
  "processSenderKeyDistributionMessage",
  "getSenderKeyDistributionMessage",
  "injectE2ESession",
  "deleteSession",
  "migrateSession",
] as const;

/** Before linking there is no own id: everything then shares this lane. */
const UNLINKED_LANE = "signal-unlinked";

type MakeRepository = (auth: { creds: any; keys: any }, logger: any, pnToLid?: any) => any;

/** Wraps Baileys' `makeSignalRepository` so a socket's Signal operations run one at a time, in the lane of its sends. */
export function oneSignalLane(make: MakeRepository): MakeRepository {
  return (auth, logger, pnToLid) => {
    const repository = make(auth, logger, pnToLid);
    for (const name of SIGNAL_OPERATIONS) {
      const operation = repository[name];
      if (typeof operation !== "function") throw new Error(`Baileys' Signal repository has no ${name}: check oneSignalLane against this Baileys version`);
      repository[name] = (...args: unknown[]) => auth.keys.transaction(() => operation.apply(repository, args), auth.creds.me?.id ?? UNLINKED_LANE);
    }
    return repository;
  };
}
