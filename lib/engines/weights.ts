// What one running session of each engine costs a node, relative to the others (a browser is not a
// socket). A node's capacity (MAX_SESSIONS_PER_INSTANCE) counts sessions of its default engine
// (WA_ENGINE); a session of another engine counts weight(engine) / weight(default) of one. So a
// cluster of one engine behaves exactly as it always did, and a baileys session on a node sized for
// browsers takes a twenty-fifth of a slot. Defaults from the measurements in docs/engines.md
// ("Capacity"): about 110 MB PSS for a wwebjs session with its Chromium, about 4.4 MB for a baileys
// session under load (1.1-1.3 MB idle), well under 1 MB for a simulator session. ENGINE_WEIGHTS
// overrides them (`baileys=0.05,wwebjs=1`).

export const DEFAULT_ENGINE_WEIGHTS: Readonly<Record<string, number>> = { wwebjs: 1, baileys: 0.04, simulator: 0.005 };

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
