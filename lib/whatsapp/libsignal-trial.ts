// npm libsignal 6.0.0 (the Signal protocol library Baileys and the fake server use) decrypts a
// message by trying each session a record holds, newest first, and it tries them in place: a trial
// on the wrong session has already stepped that session's ratchet (a new root key, a new sending
// chain, the old one deleted) or filled its message keys before the MAC check fails. When another
// session then decrypts the message, the whole record is stored, the damaged session with it. That
// happens whenever both sides start a session at the same moment (each sends a prekey message
// before it has the other's), which traffic both ways makes common: the damaged session is the open
// one, every later message encrypted with it fails on the other side with "Bad MAC", and the
// counters drift ("Over 2000 messages into the future").
//
// The reference implementation (libsignal-protocol-java, SessionCipher.decrypt) tries each session on
// a copy and keeps the copy only if it decrypted. This does the same: the trial runs on a copy, and
// only the session that decrypted takes the copy's state.
let done = false;

export function trialDecryptOnCopies(): void {
  if (done) return;
  done = true;
  const SessionCipher = require("libsignal/src/session_cipher") as { prototype: Record<string, any> };
  const errors = require("libsignal/src/errors") as { SessionError: new (msg: string) => Error };
  // written against libsignal 6.0.0's internals: a release that renames them must fail loudly here,
  // not decrypt in place again without anyone noticing
  if (typeof SessionCipher.prototype.decryptWithSessions !== "function" || typeof SessionCipher.prototype.doDecryptWhisperMessage !== "function")
    throw new Error("libsignal's SessionCipher no longer has decryptWithSessions/doDecryptWhisperMessage: review lib/whatsapp/libsignal-trial.ts for this release");
  SessionCipher.prototype.decryptWithSessions = async function (this: any, data: Buffer, sessions: any[]) {
    if (!sessions.length) throw new errors.SessionError("No sessions available");
    const errs: unknown[] = [];
    for (const session of sessions) {
      const trial = session.constructor.deserialize(session.serialize());
      let plaintext: Buffer;
      try {
        plaintext = await this.doDecryptWhisperMessage(data, trial);
      } catch (e) {
        errs.push(e);
        continue;
      }
      // the session takes the state the successful trial left (pendingPreKey removed included)
      for (const key of Object.keys(session)) if (!(key in trial)) delete session[key];
      Object.assign(session, trial);
      session.indexInfo.used = Date.now();
      return { session, plaintext };
    }
    // (as libsignal reports it; the errors name no key material)
    console.error("Failed to decrypt message with any known session...");
    for (const e of errs) console.error("Session error:" + e, (e as Error)?.stack);
    throw new errors.SessionError("No matching sessions found for message");
  };
}
