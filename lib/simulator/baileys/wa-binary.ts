// WhatsApp's binary XML ("binary nodes") for the fake server, written independently of Baileys' own
// codec so a bug in one is caught by the other. We encode plainly (every string as raw bytes, no
// token packing: a valid, just larger, encoding) and decode everything a client may send: tokens
// from the shared dictionaries, JID pairs, AD JIDs, nibble and hex packing, zlib-compressed frames.
import { inflateSync } from "node:zlib";

export interface WaNode {
  tag: string;
  attrs: Record<string, string>;
  content?: WaNode[] | Buffer | string;
}

const TAG = {
  LIST_EMPTY: 0,
  DICTIONARY_0: 236,
  DICTIONARY_3: 239,
  INTEROP_JID: 245,
  FB_JID: 246,
  AD_JID: 247,
  LIST_8: 248,
  LIST_16: 249,
  JID_PAIR: 250,
  HEX_8: 251,
  BINARY_8: 252,
  BINARY_20: 253,
  BINARY_32: 254,
  NIBBLE_8: 255,
} as const;

/** The token dictionaries are data both sides must agree on (WhatsApp's, as published by Baileys). */
interface Dictionaries {
  single: readonly string[];
  double: readonly (readonly string[])[];
}
let dictionaries: Dictionaries | undefined;
function dicts(): Dictionaries {
  if (!dictionaries) {
     
    const c = require("baileys/lib/WABinary/constants.js") as { SINGLE_BYTE_TOKENS: string[]; DOUBLE_BYTE_TOKENS: string[][] };
    dictionaries = { single: c.SINGLE_BYTE_TOKENS, double: c.DOUBLE_BYTE_TOKENS };
  }
  return dictionaries;
}

// --- encoding ---

export function encodeNode(node: WaNode): Buffer {
  const out: number[] = [0]; // 0: not compressed
  const chunks: Buffer[] = [];
  const flush = () => {
    if (out.length) chunks.push(Buffer.from(out.splice(0)));
  };
  const writeBytes = (b: Buffer) => {
    if (b.length < 256) out.push(TAG.BINARY_8, b.length);
    else if (b.length < 1 << 20) out.push(TAG.BINARY_20, (b.length >> 16) & 0x0f, (b.length >> 8) & 0xff, b.length & 0xff);
    else out.push(TAG.BINARY_32, (b.length >>> 24) & 0xff, (b.length >> 16) & 0xff, (b.length >> 8) & 0xff, b.length & 0xff);
    flush();
    chunks.push(b);
  };
  const writeListStart = (size: number) => {
    if (size === 0) out.push(TAG.LIST_EMPTY);
    else if (size < 256) out.push(TAG.LIST_8, size);
    else out.push(TAG.LIST_16, size >> 8, size & 0xff);
  };
  const writeNode = (n: WaNode) => {
    const attrs = Object.entries(n.attrs).filter(([, v]) => v !== undefined && v !== null);
    const hasContent = n.content !== undefined;
    writeListStart(1 + attrs.length * 2 + (hasContent ? 1 : 0));
    writeBytes(Buffer.from(n.tag, "utf8"));
    for (const [k, v] of attrs) {
      writeBytes(Buffer.from(k, "utf8"));
      writeBytes(Buffer.from(String(v), "utf8"));
    }
    if (!hasContent) return;
    if (Array.isArray(n.content)) {
      writeListStart(n.content.length);
      for (const child of n.content) writeNode(child);
    } else {
      writeBytes(typeof n.content === "string" ? Buffer.from(n.content, "utf8") : n.content!);
    }
  };
  writeNode(node);
  flush();
  return Buffer.concat(chunks);
}

// --- decoding ---

export function decodeNode(frame: Buffer): WaNode {
  if (frame.length < 1) throw new Error("empty node frame");
  const body = frame[0] & 2 ? inflateSync(frame.subarray(1)) : frame.subarray(1);
  const r = new Reader(body);
  const node = r.node();
  if (r.pos !== body.length) throw new Error(`trailing bytes after node (${body.length - r.pos})`);
  return node;
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error("node ends early");
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  private int(n: number): number {
    this.need(n);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++];
    return v;
  }

  private bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private listSize(tag: number): number {
    if (tag === TAG.LIST_EMPTY) return 0;
    if (tag === TAG.LIST_8) return this.byte();
    if (tag === TAG.LIST_16) return this.int(2);
    throw new Error(`not a list tag: ${tag}`);
  }

  private packed(tag: number): string {
    const start = this.byte();
    let s = "";
    for (let i = 0; i < (start & 0x7f); i++) {
      const b = this.byte();
      s += unpack(tag, b >> 4) + unpack(tag, b & 0x0f);
    }
    return start & 0x80 ? s.slice(0, -1) : s;
  }

  string(tag: number): string {
    const { single, double } = dicts();
    if (tag >= 1 && tag < single.length) return single[tag];
    if (tag >= TAG.DICTIONARY_0 && tag <= TAG.DICTIONARY_3) {
      const token = double[tag - TAG.DICTIONARY_0]?.[this.byte()];
      if (token === undefined) throw new Error("unknown double-byte token");
      return token;
    }
    switch (tag) {
      case TAG.LIST_EMPTY:
        return "";
      case TAG.BINARY_8:
        return this.bytes(this.byte()).toString("utf8");
      case TAG.BINARY_20:
        return this.bytes(this.int20()).toString("utf8");
      case TAG.BINARY_32:
        return this.bytes(this.int(4)).toString("utf8");
      case TAG.JID_PAIR: {
        const user = this.string(this.byte());
        const server = this.string(this.byte());
        if (!server) throw new Error("JID pair without a server");
        return user ? `${user}@${server}` : `@${server}`;
      }
      case TAG.AD_JID: {
        const domain = this.byte();
        const device = this.byte();
        const user = this.string(this.byte());
        const server = domain === 1 ? "lid" : domain === 128 ? "hosted" : domain === 129 ? "hosted.lid" : "s.whatsapp.net";
        return device ? `${user}:${device}@${server}` : `${user}@${server}`;
      }
      case TAG.FB_JID: {
        const user = this.string(this.byte());
        const device = this.int(2);
        return `${user}:${device}@${this.string(this.byte())}`;
      }
      case TAG.INTEROP_JID: {
        const user = this.string(this.byte());
        const device = this.int(2);
        const integrator = this.int(2);
        return `${integrator}-${user}:${device}@interop`;
      }
      case TAG.HEX_8:
      case TAG.NIBBLE_8:
        return this.packed(tag);
      default:
        throw new Error(`invalid string tag ${tag}`);
    }
  }

  private int20(): number {
    this.need(3);
    return ((this.buf[this.pos++] & 0x0f) << 16) + (this.buf[this.pos++] << 8) + this.buf[this.pos++];
  }

  node(): WaNode {
    const size = this.listSize(this.byte());
    if (size === 0) throw new Error("empty node");
    const tag = this.string(this.byte());
    if (!tag) throw new Error("node without a tag");
    const attrs: Record<string, string> = {};
    for (let i = 0; i < (size - 1) >> 1; i++) {
      const k = this.string(this.byte());
      attrs[k] = this.string(this.byte());
    }
    const node: WaNode = { tag, attrs };
    if (size % 2 === 0) {
      const t = this.byte();
      if (t === TAG.LIST_EMPTY || t === TAG.LIST_8 || t === TAG.LIST_16) {
        const n = this.listSize(t);
        const children: WaNode[] = [];
        for (let i = 0; i < n; i++) children.push(this.node());
        node.content = children;
      } else if (t === TAG.BINARY_8) node.content = Buffer.from(this.bytes(this.byte()));
      else if (t === TAG.BINARY_20) node.content = Buffer.from(this.bytes(this.int20()));
      else if (t === TAG.BINARY_32) node.content = Buffer.from(this.bytes(this.int(4)));
      else node.content = this.string(t);
    }
    return node;
  }
}

function unpack(tag: number, v: number): string {
  if (tag === TAG.HEX_8) {
    if (v < 10) return String(v);
    return String.fromCharCode(65 + v - 10);
  }
  if (v <= 9) return String(v);
  if (v === 10) return "-";
  if (v === 11) return ".";
  if (v === 15) return "\0";
  throw new Error(`invalid nibble ${v}`);
}

// --- reading helpers ---

export function child(node: WaNode | undefined, tag: string): WaNode | undefined {
  return Array.isArray(node?.content) ? node.content.find((c) => c.tag === tag) : undefined;
}

export function children(node: WaNode | undefined, tag?: string): WaNode[] {
  return Array.isArray(node?.content) ? node.content.filter((c) => tag === undefined || c.tag === tag) : [];
}

export function bytesOf(node: WaNode | undefined): Buffer | undefined {
  if (!node || node.content === undefined || Array.isArray(node.content)) return undefined;
  return typeof node.content === "string" ? Buffer.from(node.content, "utf8") : node.content;
}
