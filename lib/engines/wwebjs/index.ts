// The wwebjs engine: whatsapp-web.js 1.34.7 in a system Chromium per session.
export { WwebjsEngine, createWwebjsEngineFactory, containUnhandledRejections } from "./engine";
export type { WwebjsEngineOptions, WebVersionCache } from "./engine";
export { assertChromium, chromeArgsFrom, createWwebjsEngineFactoryFromConfig, wwebjsOptionsFromConfig } from "./factory";
