// Jest transform for ESM-only packages (baileys 7 and its dependencies): jest's CommonJS runtime
// cannot load them, Node itself can (require(esm)). esbuild rewrites them to CommonJS for tests only,
// dynamic `import()` included (jest's runtime refuses it without --experimental-vm-modules; Baileys
// imports `https` that way to upload media, and its image library, sharp, for group pictures).
const esbuild = require("esbuild");

module.exports = {
  process(source, filename) {
    const out = esbuild.transformSync(source, { loader: "js", format: "cjs", target: "node22", sourcefile: filename, sourcemap: "inline", logLevel: "silent", supported: { "dynamic-import": false } });
    return { code: out.code };
  },
  getCacheKey(source, filename) {
    return require("node:crypto").createHash("sha1").update("esm-cjs-2").update(filename).update(source).digest("hex");
  },
};
