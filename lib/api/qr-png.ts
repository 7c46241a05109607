// The QR a client scans, as a PNG. The gateway renders one for every GET .../qr, and clients poll
// that route while a user holds up a phone, so rendering is a hot path: the scale run's profile had
// the gateway spending 45% of its CPU in qrcode's PNG output (pngjs filtering and deflating a
// 320x320 RGBA image with every filter tried per row, at deflate level 9). Here `qrcode` still
// builds the symbol (the matrix, error correction, the best mask), and the image is written as a
// 1-bit grayscale PNG: 41 bytes a row instead of 1,281, about a tenth of the time and bytes.
// Renders are cached by value, since every poll between two QR rotations asks for the same image.
import { crc32, deflateSync } from "node:zlib";
import QRCode from "qrcode";

export interface QrPngOptions {
  /** Image width and height in pixels; the symbol is scaled by a whole number of pixels per module and centred. */
  width: number;
  /** The quiet zone, in modules (at least; whatever the whole-pixel scale leaves over is added to it). */
  margin: number;
  errorCorrectionLevel: "L" | "M" | "Q" | "H";
}

export const QR_PNG_DEFAULTS: QrPngOptions = { width: 320, margin: 2, errorCorrectionLevel: "M" };

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Renders `value` as a black-on-white QR code PNG (1-bit grayscale), `width` pixels square. */
export function renderQrPng(value: string, options: QrPngOptions = QR_PNG_DEFAULTS): Buffer {
  // one byte-mode segment: a WhatsApp QR (ref, keys and flags in base64, commas) is mostly byte
  // mode anyway (qrcode's segment optimiser splits off a run of digits now and then, never to a
  // smaller version in 2,000 tries), and this skips that optimiser, a shortest-path search that
  // cost more than the rest of the symbol
  const symbol = QRCode.create([{ data: Buffer.from(value, "utf8"), mode: "byte" }], { errorCorrectionLevel: options.errorCorrectionLevel });
  const size = symbol.modules.size;
  const dark = symbol.modules.data;
  const scale = Math.max(1, Math.floor(options.width / (size + 2 * options.margin)));
  const width = Math.max(options.width, (size + 2 * options.margin) * scale);
  const offset = Math.floor((width - size * scale) / 2);
  const stride = Math.ceil(width / 8);

  // rows of 1-bit pixels (1 = white), each after its filter byte (0: none; deflate finds the
  // repeated rows of a module on its own)
  const raw = Buffer.alloc((stride + 1) * width, 0);
  const blank = Buffer.alloc(stride, 0xff);
  const row = Buffer.alloc(stride);
  for (let y = 0; y < width; y++) {
    const at = y * (stride + 1) + 1;
    const r = Math.floor((y - offset) / scale);
    if (y < offset || r >= size) {
      blank.copy(raw, at);
      continue;
    }
    if ((y - offset) % scale === 0) {
      blank.copy(row);
      for (let c = 0; c < size; c++) {
        if (!dark[r * size + c]) continue;
        for (let x = offset + c * scale, end = x + scale; x < end; x++) row[x >> 3]! &= ~(0x80 >> (x & 7));
      }
    }
    row.copy(raw, at);
  }

  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(width, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // grayscale
  // compression, filter method and interlace stay 0
  return Buffer.concat([SIGNATURE, chunk("IHDR", header), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/**
 * A bounded cache of rendered QR codes. A session shows a new QR every 20 s or so, and clients
 * poll every second or two, so most requests repeat the previous render. Least recently used
 * values leave first.
 */
export class QrPngCache {
  private readonly entries = new Map<string, Buffer>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly capacity = 2048,
    private readonly options: QrPngOptions = QR_PNG_DEFAULTS,
  ) {}

  get(value: string): Buffer {
    const cached = this.entries.get(value);
    if (cached) {
      this.hits++;
      // refresh its place: Map keeps insertion order, the first key is the least recently used
      this.entries.delete(value);
      this.entries.set(value, cached);
      return cached;
    }
    this.misses++;
    const png = renderQrPng(value, this.options);
    this.entries.set(value, png);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return png;
  }

  get size(): number {
    return this.entries.size;
  }
}
