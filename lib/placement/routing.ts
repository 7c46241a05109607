// Routing by workspace (DESIGN section 5): the `Workspace` balancing strategy and the caller-side
// middleware that follows NOT_OWNER answers and waits out moves.
import { Strategies, type ServiceBroker } from "moleculer";
import { placeOne } from "./hrw";
import { activeView } from "./view";

/** The workspace key of a call: its params, or behind moleculer-web the request's merged params. */
export function workspaceKeyOf(ctx: any): string | undefined {
  const p = ctx?.params;
  const key = p?.workspaceId ?? p?.req?.$params?.workspaceId;
  return typeof key === "string" ? key : undefined;
}

/**
 * Picks the owner's endpoint from the in-memory directory. Synchronous, never throws, always
 * returns an endpoint: with no owner known it picks where the coordinator would place the workspace
 * (rendezvous hashing over the candidates), and without a workspace key it round-robins.
 */
export class WorkspaceStrategy extends (Strategies.Base as any) {
  private counter = 0;

  select(list: any[], ctx?: any): any {
    try {
      const key = workspaceKeyOf(ctx);
      const view = activeView();
      if (key && view) {
        const owner = view.ownerOf(key);
        if (owner) {
          const ep = list.find((e) => e.node?.id === owner.node);
          if (ep) return ep;
        } else {
          const present = new Set(list.map((e) => e.node?.id));
          const candidates = view.candidates().filter((c) => present.has(c.node));
          const best = placeOne(key, 0, candidates, view.loads(), view.workspaceCount + 1);
          const ep = best && list.find((e) => e.node?.id === best);
          if (ep) return ep;
        }
      }
    } catch {
      // fall through: a strategy must always answer
    }
    return list[this.counter++ % list.length];
  }
}

let registered = false;
/** Registers the strategy; every node that may call `sessions.*` must do this before it starts. */
export function registerWorkspaceStrategy(): void {
  if (registered) return;
  // Moleculer types `register` as taking an instance; it takes the class
  Strategies.register("Workspace", WorkspaceStrategy as any);
  registered = true;
}

const RETRY_CODES = new Set(["NOT_OWNER", "WORKSPACE_MOVING", "LEASE_LOST"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Caller-side: a `sessions.*` call answered NOT_OWNER is retried once on the owner it names; during
 * a move (WORKSPACE_MOVING, or an owner that is gone) it is retried until `moveWaitMs` has passed.
 * These answers mean the call was not executed, so retrying cannot act twice.
 */
export function workspaceRoutingMiddleware(moveWaitMs: number) {
  let registry: { getActionEndpointByNodeId(action: string, node: string): unknown } | undefined;
  // an owner this node's registry does not know yet (it joined a moment ago) is waited for, not
  // called: a call would only fail with SERVICE_NOT_FOUND, and Moleculer logs a warning for each
  const known = (action: string, node: string) => !registry || !!registry.getActionEndpointByNodeId(action, node);
  return {
    name: "WorkspaceRouting",
    created(broker: ServiceBroker) {
      registerWorkspaceStrategy();
      registry = (broker as unknown as { registry?: typeof registry }).registry;
    },
    call(next: (...args: any[]) => Promise<any>) {
      return async function (this: any, actionName: any, params: any, opts: any = {}) {
        const name: string = typeof actionName === "string" ? actionName : actionName?.action?.name ?? actionName?.name;
        if (typeof name !== "string" || !name.startsWith("sessions.")) return next.call(this, actionName, params, opts);
        const deadline = Date.now() + moveWaitMs;
        let followed = false;
        let target: any = actionName;
        let options = opts;
        for (let attempt = 0; ; attempt++) {
          try {
            return await next.call(this, target, params, options);
          } catch (err: any) {
            const code = err?.type;
            // the owner we were sent to has just left: the move is under way
            const ownerGone = followed && (code === "SERVICE_NOT_FOUND" || code === "SERVICE_NOT_AVAILABLE");
            if (!RETRY_CODES.has(code) && !ownerGone) throw err;
            const owner = err?.data?.owner;
            target = name;
            if (code === "NOT_OWNER" && owner && !followed && !ownerGone && known(name, owner)) {
              followed = true;
              options = { ...opts, nodeID: owner };
              continue;
            }
            if (Date.now() >= deadline) throw err;
            followed = false;
            options = { ...opts };
            delete options.nodeID;
            await sleep(Math.min(100 * 2 ** Math.min(attempt, 4), 1000, Math.max(0, deadline - Date.now())));
          }
        }
      };
    },
  };
}
