// Preloaded into every process of a scale run (`NODE_OPTIONS=--require .../loop-delay.js`): the
// process's event-loop delay (perf_hooks' histogram, sampled every 10 ms) written to stderr as one
// line per window, then reset. A line costs nothing per request; the harness reads the lines of the
// phase it measures (bench/scale.ts, `loopDelayOf`). LOOP_DELAY_REPORT_MS sets the window (5 s).
import { monitorEventLoopDelay } from "node:perf_hooks";

const windowMs = Number(process.env.LOOP_DELAY_REPORT_MS) || 5000;
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const ms = (ns: number) => Math.round(ns / 1e4) / 100;
const timer = setInterval(() => {
  if (h.count > 0) {
    // a monotonic stamp (microseconds, the same clock in every process of the machine) dates the window's end
    const at = Number(process.hrtime.bigint() / 1000n);
    process.stderr.write(`[loop-delay] ${JSON.stringify({ at, n: h.count, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) })}\n`);
  }
  h.reset();
}, windowMs);
timer.unref();
