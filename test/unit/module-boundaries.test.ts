// The layering the code keeps (DESIGN section 2, issue 18's "Shape"): WhatsApp's vocabulary lives in
// lib/whatsapp and the product takes it from there, never from the simulated network that is its
// test oracle; the oracle in turn depends on nothing of the product but that vocabulary.
import { promises as fs } from "node:fs";
import path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(rel)));
    else if (e.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** Repository-relative paths (without extension) a file imports, type-only imports included. */
async function importsOf(file: string): Promise<string[]> {
  const text = await fs.readFile(path.join(ROOT, file), "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/gm)].map((m) => path.join(path.dirname(file), m[1]));
}

async function edges(dirs: string[]): Promise<Array<{ file: string; target: string }>> {
  const out: Array<{ file: string; target: string }> = [];
  for (const dir of dirs) for (const file of await sources(dir)) for (const target of await importsOf(file)) out.push({ file, target });
  return out;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

describe("module boundaries", () => {
  it("the product takes WhatsApp's vocabulary from lib/whatsapp, not from the simulated network", async () => {
    const bad = (await edges(["lib", "services", "mixins"])).filter(
      ({ file, target }) =>
        under(target, "lib/simulator") &&
        !under(file, "lib/simulator") &&
        // the simulator engine is the network's client: it speaks its wire protocol
        !under(file, "lib/engines/simulator") &&
        // the wwebjs engine builds the fake WhatsApp Web page when pointed at a simulated network
        !(under(file, "lib/engines/wwebjs") && under(target, "lib/simulator/fake-wa-web")),
    );
    expect(bad).toEqual([]);
  });

  it("the simulated network (the oracle) depends on nothing of the product but lib/whatsapp", async () => {
    const bad = (await edges(["lib/simulator"])).filter(({ target }) => under(target, "lib") && !under(target, "lib/simulator") && !under(target, "lib/whatsapp"));
    expect(bad).toEqual([]);
  });

  it("lib/whatsapp depends on nothing else in the project", async () => {
    const bad = (await edges(["lib/whatsapp"])).filter(({ target }) => !under(target, "lib/whatsapp"));
    expect(bad).toEqual([]);
  });

  it("engines depend on the seam, not on each other", async () => {
    const engines = ["lib/engines/simulator", "lib/engines/wwebjs", "lib/engines/baileys"];
    const bad = (await edges(["lib/engines"])).filter(({ file, target }) => engines.some((a) => under(file, a)) && engines.some((b) => under(target, b) && !under(file, b)));
    expect(bad).toEqual([]);
  });
});
