// libsignal (the Signal protocol library Baileys and the fake server use) prints whole session
// records, ratchet private keys included, with console.info/warn whenever a session is opened,
// closed or pruned. Key material must never reach the logs: those three methods run with console
// info and warn muted (they are synchronous, so nothing else runs meanwhile).
let done = false;

export function quietLibsignal(): void {
  if (done) return;
  done = true;
  const SessionRecord = require("libsignal/src/session_record") as { prototype: Record<string, (...args: unknown[]) => unknown> };
  for (const name of ["closeSession", "openSession", "removeOldSessions"]) {
    const original = SessionRecord.prototype[name];
    if (typeof original !== "function") continue;
    SessionRecord.prototype[name] = function (this: unknown, ...args: unknown[]) {
      const { info, warn } = console;
      console.info = () => {};
      console.warn = () => {};
      try {
        return original.apply(this, args);
      } finally {
        console.info = info;
        console.warn = warn;
      }
    };
  }
}
