// `npm run bench qr [-- --renders 300]`: the gateway's QR rendering, the hot path the scale run's
// profile found (docs/benchmarks.md, "Profiling"). wafleet's renderer against qrcode's own PNG
// output with the settings the gateway used before (the baseline), on WhatsApp-shaped values, in
// the same run; and a poll answered from the cache.
import { randomBytes } from "node:crypto";
import QRCode from "qrcode";
import { QrPngCache, renderQrPng } from "../lib/api/qr-png";
import { figure, intArg, summarize, type BenchContext } from "./harness";

const waQr = () => ["2@" + randomBytes(45).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), "1"].join(",");

async function measure(values: string[], render: (v: string) => Promise<Buffer> | Buffer): Promise<{ p50: number; mean: number; bytes: number }> {
  for (const v of values.slice(0, 20)) await render(v); // warm-up
  const samples: number[] = [];
  let bytes = 0;
  for (const v of values) {
    const t = process.hrtime.bigint();
    bytes += (await render(v)).length;
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const s = summarize(samples);
  return { p50: s.p50, mean: s.mean, bytes: bytes / values.length };
}

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const n = intArg(args, "renders", 300);
  const values = Array.from({ length: n }, waQr);
  // alternate the two a few times so a noisy neighbour hits both alike
  const before: Array<Awaited<ReturnType<typeof measure>>> = [];
  const after: Array<Awaited<ReturnType<typeof measure>>> = [];
  for (let round = 0; round < 3; round++) {
    before.push(await measure(values, (v) => QRCode.toBuffer(v, { type: "png", errorCorrectionLevel: "M", margin: 2, width: 320 })));
    after.push(await measure(values, (v) => renderQrPng(v)));
  }
  const best = (xs: typeof before) => xs.reduce((a, b) => (b.mean < a.mean ? b : a));
  const b = best(before);
  const a = best(after);
  const baseline = { name: "qrcode.toBuffer PNG, 320 px, RGBA (the gateway before)", value: b.mean };
  emit(figure("qr.render.mean", "ms", a.mean, baseline, { renders: n, p50: Math.round(a.p50 * 100) / 100 }));
  emit(figure("qr.render.bytes", "B", a.bytes, { name: baseline.name, value: b.bytes }));
  const cache = new QrPngCache();
  for (const v of values) cache.get(v);
  const hit = await measure(values, (v) => cache.get(v));
  emit(figure("qr.render.cached.mean", "us", hit.mean * 1000, { name: baseline.name, value: b.mean * 1000 }, { renders: n }));
}
