import { StartGate } from "../../lib/engines/start-gate";

describe("StartGate", () => {
  it("settles once; later settles and rejects do nothing", async () => {
    const gate = new StartGate();
    const p = gate.open(10_000, () => undefined);
    expect(gate.pending).toBe(true);
    expect(gate.promise).toBe(p);
    gate.settle();
    gate.reject(new Error("too late"));
    await expect(p).resolves.toBeUndefined();
    expect(gate.pending).toBe(false);
    expect(gate.promise).toBeUndefined();
  });

  it("rejects with the reason given, and its deadline is cleared", async () => {
    const gate = new StartGate();
    let deadlines = 0;
    const p = gate.open(30, () => deadlines++);
    gate.reject(new Error("stopped"));
    await expect(p).rejects.toThrow("stopped");
    await new Promise((r) => setTimeout(r, 60));
    expect(deadlines).toBe(0);
  });

  it("calls the deadline when neither came in time", async () => {
    const gate = new StartGate();
    const p = gate.open(20, () => gate.reject(new Error("deadline")));
    await expect(p).rejects.toThrow("deadline");
  });
});
