import { randomBytes } from "node:crypto";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { QR_PNG_DEFAULTS, QrPngCache, renderQrPng } from "../../lib/api/qr-png";

// qrcode's own penalty rules and format words: an encoder independent of the one the renderer uses
type Matrix = { size: number; data: Uint8Array; get(row: number, col: number): number };
const penalties = require("qrcode/lib/core/mask-pattern") as Record<"getPenaltyN1" | "getPenaltyN2" | "getPenaltyN3", (m: Matrix) => number>;
const formatInfo = require("qrcode/lib/core/format-info") as { getEncodedBits(level: unknown, mask: number): number };
const levels = require("qrcode/lib/core/error-correction-level") as Record<"L" | "M" | "Q" | "H", unknown>;

/** A value shaped like WhatsApp Web's: ref, noise key, identity key, adv secret, platform flag. */
const waQr = () => ["2@" + randomBytes(45).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), "1"].join(",");

function decode(png: Buffer): { width: number; height: number; data: Buffer; text: string | undefined; version: number | undefined } {
  // an independent decoder (pngjs) and an independent QR reader (jsQR): the image must scan
  const img = PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height, { inversionAttempts: "dontInvert" });
  return { width: img.width, height: img.height, data: img.data, text: found?.data, version: found?.version };
}

/** The symbol drawn in a PNG: where it starts, the pixels of a module, and every module read at its centre. */
function readSymbol(png: Buffer): { text: string; size: number; x0: number; y0: number; scale: number; modules: Uint8Array; pixel(x: number, y: number): number } {
  const img = decode(png);
  if (img.text === undefined || img.version === undefined) throw new Error("the image does not scan");
  const size = 17 + 4 * img.version;
  const pixel = (x: number, y: number) => img.data[(y * img.width + x) * 4]!;
  // the top row of the two upper finder patterns: the first dark row, from the first dark pixel to the last
  let y0 = 0;
  while ([...Array(img.width).keys()].every((x) => pixel(x, y0) === 255)) y0++;
  let [x0, x1] = [0, img.width - 1];
  while (pixel(x0, y0) === 255) x0++;
  while (pixel(x1, y0) === 255) x1--;
  const scale = (x1 - x0 + 1) / size;
  const modules = new Uint8Array(size * size);
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) modules[r * size + c] = pixel(x0 + c * scale + (scale >> 1), y0 + r * scale + (scale >> 1)) === 0 ? 1 : 0;
  return { text: img.text, size, x0, y0, scale, modules, pixel };
}

/** The error correction level and mask in both copies of a symbol's format information (ISO/IEC 18004 7.9). */
function formatOf(modules: Uint8Array, size: number): Array<{ level: "L" | "M" | "Q" | "H"; mask: number } | undefined> {
  const at = (r: number, c: number) => modules[r * size + c]!;
  let nearFinder = 0;
  let split = 0;
  for (let i = 0; i < 15; i++) {
    nearFinder |= at(i < 6 ? i : i < 8 ? i + 1 : 8, i < 8 ? 8 : i < 9 ? 7 : 14 - i) << i; // around the top-left finder
    split |= (i < 8 ? at(8, size - 1 - i) : at(size - 15 + i, 8)) << i; // under the top-right, beside the bottom-left
  }
  const named = (bits: number) => {
    for (const level of ["L", "M", "Q", "H"] as const) for (let mask = 0; mask < 8; mask++) if (formatInfo.getEncodedBits(levels[level], mask) === bits) return { level, mask };
    return undefined;
  };
  return [named(nearFinder), named(split)];
}

describe("QR PNG rendering", () => {
  it("renders a 1-bit grayscale PNG of the default width that scans back to the value", () => {
    for (let i = 0; i < 5; i++) {
      const value = waQr();
      const png = renderQrPng(value);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(png.readUInt32BE(16)).toBe(320); // IHDR width
      expect(png[24]).toBe(1); // bit depth
      expect(png[25]).toBe(0); // grayscale
      const img = decode(png);
      expect([img.width, img.height]).toEqual([320, 320]);
      expect(img.text).toBe(value);
    }
  });

  it("scans back to the exact value, at error correction level M in both format copies, for 100 random WhatsApp-shaped values", () => {
    for (let i = 0; i < 100; i++) {
      const value = waQr();
      const symbol = readSymbol(renderQrPng(value));
      expect(symbol.text).toBe(value);
      const [first, second] = formatOf(symbol.modules, symbol.size);
      expect(first?.level).toBe("M");
      expect(second).toEqual(first);
    }
  });

  it.each([
    ["a WhatsApp-shaped value", waQr()],
    ["a value with a long run of digits (which qrcode's own optimiser would split)", `2@${"1234567890".repeat(6)},${waQr()}`],
  ])("draws exactly the symbol another encoder (qrcode) builds for %s with the same level and mask: every module's pixels, the quiet zone white", (_what, value) => {
    const png = renderQrPng(value);
    const img = PNG.sync.read(png);
    const { modules, size: read } = readSymbol(png);
    const { level, mask } = formatOf(modules, read)[0]!;
    // the data as one byte segment, as the renderer encodes it (qrcode's own optimiser may split a
    // value with a run of digits into segments: the same version, another matrix)
    const symbol = QRCode.create([{ data: Buffer.from(value, "utf8"), mode: "byte" }], { errorCorrectionLevel: level, maskPattern: mask as QRCode.QRCodeMaskPattern });
    const size = symbol.modules.size;
    expect(size).toBe(read);
    const scale = Math.floor(320 / (size + 2 * QR_PNG_DEFAULTS.margin));
    const offset = Math.floor((320 - size * scale) / 2);
    const pixel = (x: number, y: number) => img.data[(y * img.width + x) * 4]!;
    expect(offset).toBeGreaterThanOrEqual(QR_PNG_DEFAULTS.margin * scale);
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const want = symbol.modules.data[r * size + c] ? 0 : 255;
        // every pixel of the module, not only its centre
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) expect(pixel(offset + c * scale + dx, offset + r * scale + dy)).toBe(want);
      }
    }
    for (let i = 0; i < 320; i++) {
      for (const [x, y] of [[i, 0], [0, i], [i, offset - 1], [offset - 1, i], [i, offset + size * scale], [offset + size * scale, i], [i, 319], [319, i]] as const) {
        expect(pixel(x, y)).toBe(255);
      }
    }
  });

  it("chooses the mask with the lowest penalty under the standard's four rules, for 50 random WhatsApp-shaped values", () => {
    // ISO/IEC 18004 7.8.3: N1 runs of five or more, N2 2x2 blocks, N3 finder-like 1:1:3:1:1 runs
    // beside four light modules, N4 the dark share's distance from 50% in whole 5% steps. Scored
    // on the masked symbol before its format and version information are placed (those cells
    // blank), the first lowest winning, as python-qrcode and the `qr` package do; the rules
    // are qrcode's own implementation, N4 as the standard words it (qrcode's is one step off on the
    // dark side of 50%)
    for (let i = 0; i < 50; i++) {
      const value = waQr();
      const { modules, size } = readSymbol(renderQrPng(value));
      const chosen = formatOf(modules, size)[0]!.mask;
      const scores = [0, 1, 2, 3, 4, 5, 6, 7].map((mask) => {
        const data = Uint8Array.from(QRCode.create([{ data: Buffer.from(value, "utf8"), mode: "byte" }], { errorCorrectionLevel: "M", maskPattern: mask as QRCode.QRCodeMaskPattern }).modules.data);
        const blank = (r: number, c: number) => (data[r * size + c] = 0);
        for (let k = 0; k < 9; k++) {
          if (k === 6) continue; // the timing patterns cross there
          blank(k, 8); // format information around the top-left finder
          blank(8, k);
        }
        for (let k = 0; k < 8; k++) {
          blank(8, size - 1 - k); // under the top-right finder
          blank(size - 1 - k, 8); // beside the bottom-left finder, the dark module among them
        }
        for (let k = 0; k < 18; k++) {
          blank(Math.floor(k / 3), size - 11 + (k % 3)); // version information (version 7 and up)
          blank(size - 11 + (k % 3), Math.floor(k / 3));
        }
        const matrix: Matrix = { size, data, get: (r, c) => data[r * size + c]! };
        const dark = data.reduce((a, b) => a + b, 0);
        const n4 = 10 * Math.floor(Math.abs((dark * 100) / data.length - 50) / 5);
        return penalties.getPenaltyN1(matrix) + penalties.getPenaltyN2(matrix) + penalties.getPenaltyN3(matrix) + n4;
      });
      expect(chosen).toBe(scores.indexOf(Math.min(...scores)));
    }
  });

  it("encodes non-ASCII values as UTF-8 bytes", () => {
    const value = "wafleet · ünïcødé · 2@ref,key,1";
    expect(decode(renderQrPng(value)).text).toBe(value);
  });

  it("widens the image rather than drawing modules smaller than a pixel, and keeps odd widths", () => {
    const value = waQr();
    const small = decode(renderQrPng(value, { width: 40, margin: 2, errorCorrectionLevel: "M" }));
    expect(small.width).toBeGreaterThan(40);
    expect(small.text).toBe(value);
    const odd = decode(renderQrPng(value, { width: 333, margin: 4, errorCorrectionLevel: "H" }));
    expect([odd.width, odd.height]).toEqual([333, 333]);
    expect(odd.text).toBe(value);
  });

  it("caches renders by value, evicting the least recently used", () => {
    const cache = new QrPngCache(2);
    const [a, b, c] = [waQr(), waQr(), waQr()];
    const first = cache.get(a);
    expect(cache.get(a)).toBe(first);
    cache.get(b);
    cache.get(a); // a is now the most recent
    cache.get(c); // evicts b
    expect(cache.size).toBe(2);
    expect([cache.hits, cache.misses]).toEqual([2, 3]);
    expect(cache.get(a)).toBe(first);
    cache.get(b);
    expect([cache.hits, cache.misses]).toEqual([3, 4]);
    expect(decode(cache.get(c)).text).toBe(c);
  });
});
