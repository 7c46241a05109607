// The caller-side routing middleware: NOT_OWNER is followed to the owner it names, but only once
// the caller's registry knows that owner (a node that joined a moment ago is waited for instead).
import { workspaceRoutingMiddleware } from "../../lib/placement/routing";

function notOwner(owner: string) {
  return Object.assign(new Error("not the owner"), { type: "NOT_OWNER", data: { owner } });
}

function setup(knownNodes: Set<string>) {
  const mw = workspaceRoutingMiddleware(3000);
  const registry = { getActionEndpointByNodeId: (_action: string, node: string) => (knownNodes.has(node) ? { node: { id: node } } : undefined) };
  mw.created({ registry } as any);
  const calls: Array<string | undefined> = [];
  const next = async (_action: string, _params: unknown, opts: any) => {
    calls.push(opts?.nodeID);
    if (opts?.nodeID === "n5") return "done on n5";
    throw notOwner("n5");
  };
  return { call: mw.call(next as any), calls };
}

describe("workspace routing middleware", () => {
  it("follows NOT_OWNER to a known owner at once", async () => {
    const { call, calls } = setup(new Set(["n1", "n5"]));
    await expect(call("sessions.get", { workspaceId: "w" }, {})).resolves.toBe("done on n5");
    expect(calls).toEqual([undefined, "n5"]);
  });

  it("waits for an owner its registry does not know yet instead of calling it", async () => {
    const known = new Set(["n1"]);
    const { call, calls } = setup(known);
    const result = call("sessions.get", { workspaceId: "w" }, {});
    await new Promise((r) => setTimeout(r, 350));
    // asked again through the strategy, never sent to n5 while n5 is unknown
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.every((n) => n === undefined)).toBe(true);
    known.add("n5");
    await expect(result).resolves.toBe("done on n5");
    expect(calls.at(-1)).toBe("n5");
  });

  it("gives up with NOT_OWNER when the owner stays unknown past the move wait", async () => {
    const { call } = setup(new Set(["n1"]));
    await expect(call("sessions.get", { workspaceId: "w" }, {})).rejects.toMatchObject({ type: "NOT_OWNER" });
  }, 10000);

  it("leaves other services' calls alone", async () => {
    const { call, calls } = setup(new Set());
    await expect(call("webhooks.get", {}, {})).rejects.toMatchObject({ type: "NOT_OWNER" });
    expect(calls).toEqual([undefined]);
  });
});
