// `npm run bench qr [-- --renders 300]`: the gateway's QR rendering, on the link path (every new QR
// value is rendered once; docs/benchmarks.md, "Profiling" and "Fifth round (issue 23): the QR
// symbol"). The renderer (`qr` builds the symbol, wafleet writes the PNG) against the previous one
// (`qrcode`'s `QRCode.create`, the same PNG writer: the baseline), on WhatsApp-shaped values, in the
// same run; the symbol alone against `QRCode.create` alone; and a poll answered from the cache.
import { randomBytes } from "node:crypto";
import QRCode from "qrcode";
import { buildQrSymbol, QrPngCache, renderQrPng, writeQrPng } from "../lib/api/qr-png";
import { figure, intArg, summarize, type BenchContext } from "./harness";

const waQr = () => ["2@" + randomBytes(45).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), "1"].join(",");

/** The symbol as the gateway built it before: `qrcode`, one byte segment, its own mask choice. */
const qrcodeSymbol = (v: string) => {
  const symbol = QRCode.create([{ data: Buffer.from(v, "utf8"), mode: "byte" }], { errorCorrectionLevel: "M" });
  return { size: symbol.modules.size, dark: symbol.modules.data };
};

type Measure = { p50: number; mean: number; bytes: number };

function measure(values: string[], render: (v: string) => Buffer | unknown): Measure {
  for (const v of values.slice(0, 20)) render(v); // warm-up
  const samples: number[] = [];
  let bytes = 0;
  for (const v of values) {
    const t = process.hrtime.bigint();
    const out = render(v);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (Buffer.isBuffer(out)) bytes += out.length;
  }
  const s = summarize(samples);
  return { p50: s.p50, mean: s.mean, bytes: bytes / values.length };
}

export default async function run({ emit, args }: BenchContext): Promise<void> {
  const n = intArg(args, "renders", 300);
  const values = Array.from({ length: n }, waQr);
  const runs = {
    before: [] as Measure[],
    after: [] as Measure[],
    beforeSymbol: [] as Measure[],
    afterSymbol: [] as Measure[],
  };
  // alternate them a few times so a noisy neighbour hits all alike; the best round of each counts
  for (let round = 0; round < 5; round++) {
    runs.before.push(measure(values, (v) => writeQrPng(qrcodeSymbol(v))));
    runs.after.push(measure(values, (v) => renderQrPng(v)));
    runs.beforeSymbol.push(measure(values, qrcodeSymbol));
    runs.afterSymbol.push(measure(values, (v) => buildQrSymbol(v, "M")));
  }
  const best = (xs: Measure[]) => xs.reduce((a, b) => (b.mean < a.mean ? b : a));
  const [b, a, bs, as] = [best(runs.before), best(runs.after), best(runs.beforeSymbol), best(runs.afterSymbol)];
  const baseline = { name: "qrcode's QRCode.create + the same PNG writer (the gateway before)", value: b.mean };
  const p50 = (m: Measure) => Math.round(m.p50 * 1000) / 1000;
  emit(figure("qr.render.mean", "ms", a.mean, baseline, { renders: n, p50: p50(a), baselineP50: p50(b) }));
  emit(figure("qr.render.symbol.mean", "ms", as.mean, { name: "qrcode's QRCode.create (byte segment, level M)", value: bs.mean }, { renders: n, p50: p50(as), baselineP50: p50(bs) }));
  emit(figure("qr.render.bytes", "B", a.bytes, { name: baseline.name, value: b.bytes }));
  const cache = new QrPngCache();
  for (const v of values) cache.get(v);
  const hit = measure(values, (v) => cache.get(v));
  emit(figure("qr.render.cached.mean", "us", hit.mean * 1000, { name: baseline.name, value: b.mean * 1000 }, { renders: n }));
}
