// The gateway's side of the simulated WhatsApp network: whether this gateway runs against it, and
// the "scan with a simulated phone" the dashboard offers there (never outside simulation).
import { randomInt } from "node:crypto";
import { WafleetError } from "../errors";

export interface SimulationInfo {
  /** The simulated network's base URL; empty when the gateway's sessions talk to WhatsApp itself. */
  url: string;
}

/** Simulated phones get numbers in the 1555 range, so they never look like a real subscriber's. */
export function randomSimulatedPhone(): string {
  return `1555${String(randomInt(0, 10_000_000)).padStart(7, "0")}`;
}

/**
 * A phone of the simulated network scanning a QR: POST /sim/link on the network's admin API.
 * Refusals (an expired QR, a phone already linked elsewhere) come back as SIMULATION_REFUSED with
 * the network's own message; an unreachable network is a 503 the client may retry.
 */
export async function scanWithSimulatedPhone(simUrl: string, qr: string, phone: string, timeoutMs = 10_000): Promise<{ wid: string; phone: string; pushname?: string }> {
  let res: Response;
  try {
    res = await fetch(`${simUrl}/sim/link`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ qr, phone }), signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    throw new WafleetError("SERVICE_UNAVAILABLE", "The simulated WhatsApp network is not reachable; retry shortly");
  }
  const body = (await res.json().catch(() => undefined)) as { me?: { wid: string; phone: string; pushname?: string }; error?: { code?: string; message?: string } } | undefined;
  if (res.ok && body?.me) return body.me;
  if (res.status >= 500 || !body?.error) throw new WafleetError("SERVICE_UNAVAILABLE", `The simulated WhatsApp network answered ${res.status}; retry shortly`);
  throw new WafleetError("SIMULATION_REFUSED", `The simulated network refused the scan: ${String(body.error.message ?? body.error.code).slice(0, 300)}`, { code: body.error.code ?? null });
}
