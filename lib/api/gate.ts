// Who a request is and what it may reach, decided from its headers and path alone, before the
// gateway reads a byte of its body: the failed-authentication block of its address, its key
// (admin or one workspace's), the per-key rate limit, then the scope of the route. Keys are never
// logged, and an address refused for its failures is refused before any key is looked up.
import type { IncomingMessage } from "node:http";
import { WafleetError } from "../errors";
import { AuthFailureThrottle, clientAddress } from "./auth-throttle";
import { adminKeyIdOf, presentedKey, type Principal, type WorkspaceKeys } from "./keys";
import type { RateLimiter } from "./rate-limit";
import type { RouteDef } from "./routes";
import { storeCall } from "./store";

export interface GateOptions {
  /** sha256 digests of the admin keys. */
  adminKeyHashes: Buffer[];
  workspaceKeys: WorkspaceKeys;
  limiter: RateLimiter;
  authFailures: AuthFailureThrottle;
  /** Proxies in front of the gateway whose X-Forwarded-For entries are believed. */
  trustedProxyHops: number;
  /** The rate limit's window, for the 429's message. */
  rateWindowMs: number;
}

/** Longer presented keys are refused without hashing them. */
const MAX_KEY_LENGTH = 512;

export class Gatekeeper {
  constructor(private readonly opts: GateOptions) {}

  /**
   * The principal a request acts as, from its headers: 429 for an address refused for its failed
   * authentications (whatever it presents), 401 for a missing or wrong key (counted against the
   * address), 429 past the key's rate limit. RateLimit-* headers go through `setHeader`.
   */
  async admit(req: IncomingMessage, setHeader: (name: string, value: string) => void): Promise<Principal> {
    const { authFailures, limiter } = this.opts;
    const address = clientAddress(req, this.opts.trustedProxyHops);
    if (authFailures.enabled) {
      const b = authFailures.blocked(address);
      if (b.blocked) throw new WafleetError("RATE_LIMITED", `Too many failed authentications from this address; retry in ${b.resetSeconds} s`, { retryAfter: b.resetSeconds });
    }
    const refuse = async (): Promise<never> => {
      if (authFailures.enabled) await storeCall(() => authFailures.failed(address));
      throw new WafleetError("UNAUTHORIZED");
    };
    const key = presentedKey(req.headers);
    if (!key || key.length > MAX_KEY_LENGTH) return refuse();
    const adminId = adminKeyIdOf(key, this.opts.adminKeyHashes);
    const principal: Principal | undefined = adminId ? { kind: "admin", keyId: adminId } : await storeCall(() => this.opts.workspaceKeys.verify(key));
    if (!principal) return refuse();
    if (limiter.enabled) {
      const d = await storeCall(() => limiter.check(principal.keyId));
      setHeader("RateLimit-Limit", String(d.limit));
      setHeader("RateLimit-Remaining", String(d.remaining));
      setHeader("RateLimit-Reset", String(d.resetSeconds));
      if (!d.allowed) throw new WafleetError("RATE_LIMITED", `More than ${d.limit} requests in ${this.opts.rateWindowMs} ms for this key; retry in ${d.resetSeconds} s`, { retryAfter: d.resetSeconds });
    }
    return principal;
  }

  /**
   * Whether the principal may use the route with these params: admin routes need an admin key; a
   * workspace key reaches its own workspace only, and gets the same answer for a foreign workspace
   * that exists and one that does not. Called twice: with the path and query before the body is
   * read (`final` false: a workspace the body may still name is left for later), then with every
   * param. Laravel's DELETE /sessions/{id} names no workspace: the key's own is filled in.
   */
  authorize(def: RouteDef, who: Principal, params: Record<string, unknown>, final: boolean): void {
    if (who.kind === "admin") return;
    if (def.admin) throw new WafleetError("FORBIDDEN", "This route needs an admin key");
    const field = def.workspaceParam ?? "workspaceId";
    const target = params[field];
    if (target === undefined) {
      if (!final) return;
      if (field === "workspace_id") {
        params[field] = who.workspaceId;
        return;
      }
    }
    if (typeof target !== "string" && typeof target !== "number") throw new WafleetError("FORBIDDEN_WORKSPACE");
    if (String(target) !== who.workspaceId) throw new WafleetError("FORBIDDEN_WORKSPACE");
  }
}
