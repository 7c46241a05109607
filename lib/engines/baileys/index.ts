// The baileys engine's factory: WhatsApp itself, or (in simulation only) the simulated network's fake
// WhatsApp server, whose certificate root the engine then trusts.
import type { EngineContext, EngineFactory } from "../types";
import { BaileysAuthStore } from "./auth-store";
import { BAILEYS_CAPABILITIES, BaileysEngine } from "./engine";
import type { BaileysEndpoint, BaileysEngineOptions } from "./engine";
import type { BaileysLog } from "./library";

export { BAILEYS_CAPABILITIES, BaileysEngine } from "./engine";
export type { BaileysEngineOptions, BaileysEndpoint } from "./engine";

const WHATSAPP_WS_URL = "wss://web.whatsapp.com/ws/chat";

export interface BaileysFactoryOptions extends Omit<BaileysEngineOptions, "endpoint"> {
  /** The simulated network (`http://host:port`); empty: WhatsApp itself. */
  simUrl: string;
  log?: BaileysLog;
}

/** Where a simulated network's fake WhatsApp server listens, and its root; asked at each connection. */
export function simulatedEndpoint(simUrl: string): () => Promise<BaileysEndpoint> {
  return async () => {
    const res = await fetch(`${simUrl.replace(/\/$/, "")}/sim/baileys`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`the simulated network has no fake WhatsApp server (GET /sim/baileys: ${res.status})`);
    const body = (await res.json()) as { url: string; root: string; mediaCa?: string };
    return { url: body.url.replace(/^http/, "ws"), root: Buffer.from(body.root, "base64"), ...(body.mediaCa ? { mediaCa: body.mediaCa } : {}) };
  };
}

export function createBaileysEngineFactory(opts: BaileysFactoryOptions): EngineFactory {
  const endpoint = opts.simUrl ? simulatedEndpoint(opts.simUrl) : async () => ({ url: WHATSAPP_WS_URL });
  return Object.assign((ctx: EngineContext) => new BaileysEngine(ctx, { ...opts, endpoint }), {
    engine: "baileys",
    capabilities: BAILEYS_CAPABILITIES,
    linked: (authDir: string) => BaileysAuthStore.linked(authDir),
  });
}
