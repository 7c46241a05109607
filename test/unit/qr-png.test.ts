import { randomBytes } from "node:crypto";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import QRCode from "qrcode";
import { QR_PNG_DEFAULTS, QrPngCache, renderQrPng } from "../../lib/api/qr-png";

/** A value shaped like WhatsApp Web's: ref, noise key, identity key, adv secret, platform flag. */
const waQr = () => ["2@" + randomBytes(45).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), randomBytes(32).toString("base64"), "1"].join(",");

function decode(png: Buffer): { width: number; height: number; data: Buffer; text: string | undefined } {
  // an independent decoder (pngjs) and an independent QR reader (jsQR): the image must scan
  const img = PNG.sync.read(png);
  const found = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height);
  return { width: img.width, height: img.height, data: img.data, text: found?.data };
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

  it.each([
    ["a WhatsApp-shaped value", waQr()],
    ["a value with a long run of digits (which qrcode's own optimiser would split)", `2@${"1234567890".repeat(6)},${waQr()}`],
  ])("draws exactly qrcode's symbol for %s: every module's pixels, the quiet zone white", (_what, value) => {
    // the symbol of one byte segment, as the renderer asks for (qrcode's own optimiser may split a
    // value with a run of digits into segments: the same version, another matrix)
    const symbol = QRCode.create([{ data: Buffer.from(value, "utf8"), mode: "byte" }], { errorCorrectionLevel: "M" });
    const size = symbol.modules.size;
    const img = PNG.sync.read(renderQrPng(value));
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
