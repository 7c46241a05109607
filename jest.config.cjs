/** Unit tests run without servers; integration and e2e tests start real processes on free loopback ports. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }],
    // ESM-only packages (baileys 7 and its dependencies, qr) are rewritten to CommonJS for jest
    "node_modules/.+\\.m?js$": "<rootDir>/test/helpers/esm-transform.cjs",
  },
  transformIgnorePatterns: ["node_modules/(?!(baileys|whatsapp-rust-bridge|p-queue|p-timeout|eventemitter3|lru-cache|@cacheable|hookified|hashery|qified|music-metadata|strtok3|token-types|peek-readable|file-type|@tokenizer|uint8array-extras|@borewit|win-guid|content-type|media-typer|qr)/)"],
  // packages that export an "import" condition only
  moduleNameMapper: { "^whatsapp-rust-bridge$": "<rootDir>/node_modules/whatsapp-rust-bridge/dist/index.js" },
  testTimeout: 60000,
  maxWorkers: 2,
};
