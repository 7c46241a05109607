// The simulated network's state file: every change is written (debounced), and after a costly
// write the next one waits proportionally longer, so serialising a large ledger never takes most of
// the process. The clock is injected: the snapshot "costs" what the test says.
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { StateFile } from "../../lib/simulator/state-file";

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "wafleet-state-"));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

it("writes the latest state, and waits costFactor times a costly write's cost before the next", async () => {
  let clock = 0;
  let cost = 2;
  let state = { n: 0 };
  const file = path.join(dir, "state.json");
  const sf = new StateFile(file, () => {
    clock += cost; // serialising takes `cost` ms
    return state;
  }, 50, () => undefined, 9, () => clock);

  expect(sf.delayMs()).toBe(50); // nothing written yet: the debounce
  state = { n: 1 };
  sf.markDirty();
  await sf.flush();
  expect(await StateFile.read(file)).toEqual({ n: 1 });
  // a cheap write (2 ms): the next waits the debounce
  expect(sf.delayMs()).toBe(50);

  cost = 300; // the ledger grew: a write now takes 300 ms
  state = { n: 2 };
  sf.markDirty();
  await sf.flush();
  expect(await StateFile.read(file)).toEqual({ n: 2 });
  // the next write starts no sooner than 10 x 300 ms after this one started
  expect(sf.delayMs()).toBe(2700);
  clock += 2000;
  expect(sf.delayMs()).toBe(700);
  clock += 1000;
  expect(sf.delayMs()).toBe(50);

  // flush() still writes at once (shutdown loses nothing)
  state = { n: 3 };
  sf.markDirty();
  await sf.flush();
  expect(await StateFile.read(file)).toEqual({ n: 3 });
});
