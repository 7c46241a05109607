// The QR a client scans, as a PNG. The gateway renders one for every new QR value (GET .../qr; its
// JSON form carries the image as a data URL), so rendering is on the link path. The symbol comes
// from `qr` (paulmillr's encoder): byte mode, the level asked for, and the mask chosen by the
// standard's four penalty rules, scored word-parallel over bit-packed rows, 6-8 times faster than
// `qrcode` makes that choice (docs/benchmarks.md, "Fifth round (issue 23): the QR symbol"). The
// image is written here as a 1-bit grayscale PNG (41 bytes a row at 320 px, whole-pixel modules,
// zlib at its default level). Renders are cached by value, since every poll between two QR
// rotations asks for the same image.
import type * as Qr from "qr" with { "resolution-mode": "import" };
import { crc32, deflateSync } from "node:zlib";

// `qr` is ESM only: Node loads it with require() (require(esm), Node >= 20.19)
const { encodeQR } = require("qr") as typeof Qr;

export interface QrPngOptions {
  /** Image width and height in pixels; the symbol is scaled by a whole number of pixels per module and centred. */
  width: number;
  /** The quiet zone, in modules (at least; whatever the whole-pixel scale leaves over is added to it). */
  margin: number;
  errorCorrectionLevel: "L" | "M" | "Q" | "H";
}

export const QR_PNG_DEFAULTS: QrPngOptions = { width: 320, margin: 2, errorCorrectionLevel: "M" };

const ECC = { L: "low", M: "medium", Q: "quartile", H: "high" } as const;

/** A QR symbol: `size` x `size` modules, row by row, 1 for dark. */
export interface QrModules {
  size: number;
  dark: ArrayLike<number | boolean>;
}

/** Builds the symbol of `value`: its UTF-8 bytes as one byte-mode segment, the best mask. */
export function buildQrSymbol(value: string, errorCorrectionLevel: QrPngOptions["errorCorrectionLevel"]): QrModules {
  // one byte-mode segment: a WhatsApp QR (ref, keys and flags in base64, commas) is byte mode
  // anyway, and a mixed-mode split never gave a smaller version (docs/benchmarks.md, "Profiling");
  // border 1 is the least `qr` draws, taken off again below
  const rows = encodeQR(value, "raw", { ecc: ECC[errorCorrectionLevel], encoding: "byte", border: 1 });
  const size = rows.length - 2;
  const dark = new Uint8Array(size * size);
  for (let r = 0; r < size; r++) {
    const row = rows[r + 1]!;
    for (let c = 0; c < size; c++) if (row[c + 1]) dark[r * size + c] = 1;
  }
  return { size, dark };
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Writes a symbol as a black-on-white PNG (1-bit grayscale), `width` pixels square. */
export function writeQrPng({ size, dark }: QrModules, options: Pick<QrPngOptions, "width" | "margin"> = QR_PNG_DEFAULTS): Buffer {
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
  // zlib's default level: level 1-3 would save about 0.05 ms a render for 13% more bytes, sent on
  // every poll of the JSON form until the QR rotates
  return Buffer.concat([SIGNATURE, chunk("IHDR", header), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** Renders `value` as a black-on-white QR code PNG (1-bit grayscale), `width` pixels square. */
export function renderQrPng(value: string, options: QrPngOptions = QR_PNG_DEFAULTS): Buffer {
  return writeQrPng(buildQrSymbol(value, options.errorCorrectionLevel), options);
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
