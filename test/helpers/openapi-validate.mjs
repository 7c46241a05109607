// Validates an OpenAPI document file with @apidevtools/swagger-parser (an ES module, which jest's
// CommonJS runtime cannot load): `node openapi-validate.mjs <file>`; exit 0 = valid.
import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
try {
  const api = await SwaggerParser.validate(doc);
  process.stdout.write(`valid: ${api.openapi} ${Object.keys(api.paths).length} paths\n`);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
