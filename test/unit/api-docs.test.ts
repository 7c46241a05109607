// docs/api.md lists every route of the route table (its "Route index"), and nothing that is not
// one: a route added without its documentation, or documentation left behind by a removed route,
// fails here. README's route table names the backup routes too.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fullPathOf, ROUTES } from "../../lib/api/routes";
import { ROOT } from "../helpers/processes";

const apiDoc = readFileSync(path.join(ROOT, "docs/api.md"), "utf8");
const index = apiDoc.slice(apiDoc.indexOf("## Route index"), apiDoc.indexOf("\n## ", apiDoc.indexOf("## Route index") + 1));
const routes = ROUTES.map((d) => `${d.method} ${fullPathOf(d)}`);

describe("docs/api.md", () => {
  it("has a route index", () => {
    expect(index.length).toBeGreaterThan(100);
  });

  it.each(routes)("lists %s", (route) => {
    expect(index).toContain(`| \`${route}\` |`);
  });

  it("lists no route the table does not have", () => {
    const listed = [...index.matchAll(/^\| `([A-Z]+ \/[^`]*)` \|/gm)].map((m) => m[1]);
    expect(listed.filter((r) => !routes.includes(r!))).toEqual([]);
    expect(listed).toHaveLength(routes.length);
  });
});

describe("README.md", () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  it.each(ROUTES.filter((d) => d.tag === "backups").map((d) => `${d.method} ${d.path}`))("names the backup route %s", (route) => {
    expect(readme).toContain(`\`${route}`);
  });
});
