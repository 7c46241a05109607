// The fake WhatsApp server's binary-node codec against Baileys' own (independent implementations):
// what one encodes the other decodes to the same node, tokens, JIDs and packed numbers included.
import { decodeNode, encodeNode } from "../../lib/simulator/baileys/wa-binary";
import type { WaNode } from "../../lib/simulator/baileys/wa-binary";

const baileys = require("baileys");

const nodes: WaNode[] = [
  { tag: "iq", attrs: { id: "1234.5678-9", to: "s.whatsapp.net", type: "get", xmlns: "encrypt" }, content: [{ tag: "count", attrs: {} }] },
  {
    tag: "message",
    attrs: { id: "3EB0ABCDEF", to: "15550001111@s.whatsapp.net", type: "text" },
    content: [
      { tag: "participants", attrs: {}, content: [{ tag: "to", attrs: { jid: "4915112345678:3@s.whatsapp.net" }, content: [{ tag: "enc", attrs: { v: "2", type: "pkmsg" }, content: Buffer.alloc(300, 7) }] }] },
      { tag: "device-identity", attrs: {}, content: Buffer.from([1, 2, 3]) },
    ],
  },
  { tag: "usync", attrs: { sid: "abc", mode: "query", last: "true", index: "0", context: "message" }, content: [{ tag: "list", attrs: {}, content: [{ tag: "user", attrs: { jid: "123456789012345@lid" } }] }] },
  { tag: "receipt", attrs: { id: "ABCDEF0123", to: "15550001111@s.whatsapp.net", t: "1764500000" } },
];

/** Baileys decodes content bytes as Buffers; compare on bytes. */
const norm = (n: any): any => ({ tag: n.tag, attrs: n.attrs, content: Array.isArray(n.content) ? n.content.map(norm) : n.content === undefined ? undefined : Buffer.from(n.content).toString("hex") });

describe("the fake server's binary-node codec", () => {
  it.each(nodes.map((n) => [n.tag, n]))("decodes Baileys' encoding of <%s> (tokens, JID pairs, AD JIDs, nibbles)", (_tag, node) => {
    const encoded = Buffer.from(baileys.encodeBinaryNode(node));
    expect(norm(decodeNode(encoded))).toEqual(norm(node));
  });

  it.each(nodes.map((n) => [n.tag, n]))("encodes <%s> so that Baileys decodes it to the same node", async (_tag, node) => {
    const decoded = await baileys.decodeBinaryNode(encodeNode(node));
    expect(norm(decoded)).toEqual(norm(node));
  });

  it("refuses truncated and trailing bytes", () => {
    const encoded = encodeNode(nodes[1]);
    expect(() => decodeNode(encoded.subarray(0, encoded.length - 5))).toThrow(/ends early/);
    expect(() => decodeNode(Buffer.concat([encoded, Buffer.from([0])]))).toThrow(/trailing/);
  });
});
