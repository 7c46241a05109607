// The fake server's app-state collections (lib/simulator/baileys/app-state.ts) decoded by Baileys'
// own companion-side decoder (independent implementations), every MAC checked: the patch MACs, the
// value and index MACs, and the LTHash of the collection after each patch (an overwrite subtracts the
// value it replaces).
import { AccountAppState } from "../../lib/simulator/baileys/app-state";

const baileys = require("baileys");
const { proto } = require("baileys/WAProto/index.js");

async function decode(state: AccountAppState, name: "critical_block" | "regular", patches: Buffer[], initial = baileys.newLTHashState()) {
  const warnings: unknown[] = [];
  const logger = { warn: (...a: unknown[]) => warnings.push(a), info: () => {}, debug: () => {}, trace: () => {}, error: (...a: unknown[]) => warnings.push(a) };
  const keyId = state.key.id.toString("base64");
  const getKey = async (id: string) => (id === keyId ? { keyData: state.key.data } : undefined);
  const syncds = patches.map((p) => proto.SyncdPatch.decode(p));
  const result = await baileys.decodePatches(name, syncds, initial, getKey, {}, undefined, logger, true);
  return { ...result, warnings };
}

describe("app-state patches of the fake server", () => {
  it("Baileys decodes a push name patch, MACs and LTHash checked", async () => {
    const s = new AccountAppState();
    expect(s.set("critical_block", ["setting_pushName"], { pushNameSetting: { name: "Sim 15550001111" } }, 1)).toBe(1);
    const { version, patches } = s.patchesSince("critical_block", 0);
    expect([version, patches.length]).toEqual([1, 1]);
    const { state, mutationMap, warnings } = await decode(s, "critical_block", patches);
    expect(warnings).toEqual([]);
    expect(state.version).toBe(1);
    const mutation = mutationMap['["setting_pushName"]'];
    expect(mutation.syncAction.value.pushNameSetting.name).toBe("Sim 15550001111");
  });

  it("an overwrite, and patches fetched in two steps, keep the LTHash Baileys computes", async () => {
    const s = new AccountAppState();
    s.set("regular", ["label_edit", "1"], { labelEditAction: { name: "New", color: 1 } }, 3);
    s.set("regular", ["label_edit", "2"], { labelEditAction: { name: "Paid", color: 2 } }, 3);
    const first = await decode(s, "regular", s.patchesSince("regular", 0).patches);
    expect(first.warnings).toEqual([]);
    s.set("regular", ["label_edit", "1"], { labelEditAction: { name: "Renamed", color: 1 } }, 3);
    const later = s.patchesSince("regular", first.state.version);
    expect(later.patches).toHaveLength(1);
    const second = await decode(s, "regular", later.patches, first.state);
    expect(second.warnings).toEqual([]);
    expect(second.state.version).toBe(3);
    expect(second.mutationMap['["label_edit","1"]'].syncAction.value.labelEditAction.name).toBe("Renamed");
    // and from scratch, all three at once
    expect((await decode(s, "regular", s.patchesSince("regular", 0).patches)).warnings).toEqual([]);
  });

  it("a patch changed on the way is refused by Baileys (the MACs are real)", async () => {
    const s = new AccountAppState();
    s.set("critical_block", ["setting_pushName"], { pushNameSetting: { name: "A" } }, 1);
    const patch = proto.SyncdPatch.decode(s.patchesSince("critical_block", 0).patches[0]);
    patch.patchMac[0] ^= 1;
    const { mutationMap, warnings } = await decode(s, "critical_block", [Buffer.from(proto.SyncdPatch.encode(patch).finish())]);
    expect(mutationMap).toEqual({});
    expect(warnings.length).toBeGreaterThan(0);
  });

  it("answers nothing past the current version, and nothing for an empty collection", () => {
    const s = new AccountAppState();
    expect(s.patchesSince("regular_low", 0)).toEqual({ version: 0, patches: [] });
    s.set("critical_block", ["setting_pushName"], { pushNameSetting: { name: "A" } }, 1);
    expect(s.patchesSince("critical_block", 1).patches).toEqual([]);
    expect(s.patchesSince("critical_block", 99).patches).toEqual([]);
  });
});
