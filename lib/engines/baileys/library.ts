// Loads the Baileys library (npm `baileys`, ESM) once, on first use: nodes that never run a Baileys
// session never pay for it.
import { quietLibsignal } from "../../whatsapp/quiet-signal";
import { trialDecryptOnCopies } from "../../whatsapp/libsignal-trial";
import { signalJobsKeepCallerContext } from "../../whatsapp/libsignal-queue";

let lib: any;

export function loadBaileys(): any {
  if (!lib) {
    quietLibsignal();
    trialDecryptOnCopies();
    signalJobsKeepCallerContext();
    lib = require("baileys");
  }
  return lib;
}

/** Baileys' logger interface, wired to ours (its chatter stays at trace/debug). */
export interface BaileysLog {
  (level: "debug" | "info" | "warn" | "error", msg: string): void;
}

export function baileysLogger(log: BaileysLog | undefined, level: "silent" | "warn" | "debug" = "warn"): any {
  const rank = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, silent: 5 } as const;
  const min = rank[level];
  const emit = (l: keyof typeof rank) => (obj: unknown, msg?: string) => {
    if (!log || rank[l] < min) return;
    const text = typeof obj === "string" ? obj : `${msg ?? ""} ${safeJson(obj)}`;
    log(l === "trace" ? "debug" : (l as "debug" | "info" | "warn" | "error"), `baileys: ${text.slice(0, 500)}`);
  };
  const logger: any = { level, trace: emit("trace"), debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
  logger.child = () => logger;
  return logger;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x)) ?? "";
  } catch {
    return String(v);
  }
}
