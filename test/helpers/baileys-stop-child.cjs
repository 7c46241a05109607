// A process holding one baileys engine (dist/) against a simulated network, for the test that a
// stopped engine leaves nothing behind. MODE=link: prints its QR, and once linked stops the engine.
// Otherwise: comes back from its auth folder, receives one message, sends one, stops the engine and
// then does nothing: the process must end by itself (nothing of the engine keeps the loop alive).
// DEBUG_HANDLES=1 prints the timers still holding the process (with where they were made).
const path = require("node:path");

const live = new Map();
if (process.env.DEBUG_HANDLES) {
  require("node:async_hooks")
    .createHook({
      init(id, type, _trigger, resource) {
        if (type === "Timeout") live.set(id, { stack: new Error().stack.split("\n").slice(5, 12).join(" | "), resource });
      },
      destroy(id) {
        live.delete(id);
      },
    })
    .enable();
}
const { BaileysEngine, simulatedEndpoint } = require(path.join(__dirname, "..", "..", "dist", "lib", "engines", "baileys"));

const { SIM_URL, AUTH_DIR, CONTACT, MODE } = process.env;
const engine = new BaileysEngine({ workspaceId: "w", sessionId: "s", authDir: AUTH_DIR }, { endpoint: simulatedEndpoint(SIM_URL), startTimeoutMs: 20000, sendTimeoutMs: 10000 });
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const stop = async () => {
  await engine.stop();
  say({ stopped: true });
  if (process.env.DEBUG_HANDLES) {
    setInterval(() => say({ timers: [...live.values()].filter((t) => t.resource.hasRef?.()).map((t) => `${t.resource._idleTimeout} ms ${t.stack}`) }), 2000).unref();
  }
};
engine.on("qr", (qr) => say({ qr }));
engine.on("ready", (me) => {
  say({ ready: me.phone });
  if (MODE === "link") void stop();
});
engine.on("message", async (m) => {
  say({ received: m.body });
  try {
    const sent = await engine.sendMessage(CONTACT, { text: "the last word" });
    say({ sent: sent.id });
  } finally {
    await stop();
  }
});
engine.on("failed", (err) => say({ failed: String(err && err.message) }));
engine.start().catch((err) => say({ startFailed: String(err && err.message) }));
