// What one running session of each engine costs a node, relative to the others (a browser is not a
// socket). A node's capacity (MAX_SESSIONS_PER_INSTANCE) counts sessions of its default engine
// (WA_ENGINE); a session of another engine counts weight(engine) / weight(default) of one. So a
// cluster of one engine behaves exactly as it always did, and a baileys session on a node sized for
// browsers takes 0.15 of a slot. Defaults from the measurements in docs/engines.md ("Capacity"):
// a wwebjs session is about 110-128 MB PSS with its Chromium (its CPU is the browser's own
// processes); a baileys session is 2.5-5 MB RSS, but all of a node's baileys sessions share the node
// process's one event loop, at about 0.12 % of a core each under one message per session per
// minute each way: memory alone would allow 2,500 on a 100-browser node, the event loop about 800,
// so the weight is what keeps it near two thirds of a core (100 / 0.15 = 666 sessions). Well under
// 1 MB for a simulator session. ENGINE_WEIGHTS overrides them (`baileys=0.05,wwebjs=1`).

export const DEFAULT_ENGINE_WEIGHTS: Readonly<Record<string, number>> = { wwebjs: 1, baileys: 0.15, simulator: 0.005 };

/** `name=weight,...` over the defaults; throws a message naming the bad part. */
export function parseEngineWeights(raw: string | undefined, engines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = { ...DEFAULT_ENGINE_WEIGHTS };
  if (!raw?.trim()) return out;
  for (const part of raw.split(",")) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9]*\.?[0-9]+)\s*$/.exec(part);
    if (!m) throw new Error(`expected engine=weight pairs separated by commas (got ${JSON.stringify(part.trim())})`);
    if (!engines.includes(m[1]!)) throw new Error(`unknown engine ${JSON.stringify(m[1])}: expected one of ${engines.join(", ")}`);
    const w = Number(m[2]);
    if (!(w > 0 && w <= 1000)) throw new Error(`the weight of ${m[1]} must be above 0 and at most 1000 (got ${m[2]})`);
    out[m[1]!] = w;
  }
  return out;
}

/** The cost of one session of `engine` on a node whose default engine is `defaultEngine`, in its capacity's units. */
export function sessionCost(weights: Readonly<Record<string, number>>, defaultEngine: string, engine: string): number {
  const base = weights[defaultEngine] ?? 1;
  return (weights[engine] ?? base) / base;
}
