// ULIDs (event ids, message ids, session ids) with their random part drawn from a pool of
// OS-random bytes filled 4 KiB at a time. The ulid package's default source asks the OS
// (crypto.getRandomValues) for one byte per character, sixteen calls per id: on the 10,000-session
// run's session nodes that was 2.8% of their CPU, every event paying it. Same bytes, same
// distribution (a byte / 256 picks one of 32 characters), one call per 256 ids.
import { randomFillSync } from "node:crypto";
import { ulid as makeUlid } from "ulid";

const pool = Buffer.alloc(4096);
let at = pool.length;

function pooledRandom(): number {
  if (at >= pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  return pool[at++]! / 256;
}

/** A ULID: 48 bits of time (`seedTime`, default now) and 80 random bits. */
export function ulid(seedTime?: number): string {
  return makeUlid(seedTime, pooledRandom);
}
