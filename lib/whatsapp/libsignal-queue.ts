// npm libsignal 6.0.0 serializes the work on one address in a queue keyed by the address alone
// (src/queue_job.js), process-wide, and runs each job from the loop of whichever job started the
// queue: a job queued while another runs executes in that other caller's async context. Baileys
// keeps each socket's key-store transaction in an AsyncLocalStorage, so a job that runs in another
// transaction's context reads that transaction's cache and writes into its mutations. When many
// sessions in one process (a wafleet node) message the same contact, their jobs share the queue of
// the contact's address and keep it running from one transaction to the next: a send's new session
// state is written into a transaction that has already committed and is lost, the next send reuses
// its counter, and the contact cannot decrypt it ("Key used already or never filled", "Bad MAC").
//
// Each SessionCipher job (encrypt, decrypt) here runs in the async context it was queued from.
// SessionBuilder's initOutgoing calls the queue directly and is not covered (a session is started
// from a bundle rarely, and not by the path that lost writes).
import { AsyncResource } from "node:async_hooks";

let done = false;

export function signalJobsKeepCallerContext(): void {
  if (done) return;
  done = true;
  const SessionCipher = require("libsignal/src/session_cipher") as { prototype: Record<string, any> };
  // written against libsignal 6.0.0's internals: a release that renames them must fail loudly here
  if (typeof SessionCipher.prototype.queueJob !== "function") throw new Error("libsignal's SessionCipher no longer has queueJob: review lib/whatsapp/libsignal-queue.ts for this release");
  const queueJob = SessionCipher.prototype.queueJob as (awaitable: () => Promise<unknown>) => Promise<unknown>;
  SessionCipher.prototype.queueJob = function (this: unknown, awaitable: () => Promise<unknown>) {
    return queueJob.call(this, AsyncResource.bind(awaitable));
  };
}
