// Strict JSON bodies: duplicated keys, depth, prototype keys and bad UTF-8 are refused before any
// handler sees the body; every other JSON object parses exactly as JSON.parse would.
import fc from "fast-check";
import { parseFormBody, parseJsonBody, scanJson } from "../../lib/api/body";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err: any) {
    return err.type as string;
  }
  return "ok";
};
const parse = (text: string, depth = 32) => parseJsonBody(Buffer.from(text), depth);
const FORBIDDEN = ["__proto__", "constructor", "prototype"];
/** A JSON value without the keys bodies may not carry at any depth. */
const clean = (v: unknown): any => JSON.parse(JSON.stringify(v, (k, x) => (FORBIDDEN.includes(k) ? undefined : x)) ?? "null");

describe("strict JSON bodies", () => {
  it.each([
    ['{"a":1,"a":2}', "JSON_DUPLICATE_KEY"],
    ['{"a":1,"\\u0061":2}', "JSON_DUPLICATE_KEY"],
    ['{"x":{"b":1,"c":{"d":1},"b":2}}', "JSON_DUPLICATE_KEY"],
    ['[{"a":1},{"a":1,"a":1}]', "JSON_DUPLICATE_KEY"],
    ['{"a":{"k":1},"b":{"k":1}}', "ok"],
    ['{"a":"\\"a\\":1,","b":"{\\"a\\":2}"}', "ok"],
    ['{"a":["a","a"],"b":"a"}', "ok"],
    ['{"__proto__":{"x":1}}', "VALIDATION_ERROR"],
    ['{"a":{"constructor":{"prototype":1}}}', "VALIDATION_ERROR"],
    ['{"a":', "INVALID_JSON"],
    ['{"a":1}x', "INVALID_JSON"],
    ["[1,2]", "VALIDATION_ERROR"],
    ['"text"', "VALIDATION_ERROR"],
    ["null", "VALIDATION_ERROR"],
  ])("%s -> %s", (text, expected) => {
    expect(code(() => parse(text))).toBe(expected);
  });

  it("refuses nesting deeper than the limit, also when the text is unbalanced", () => {
    expect(code(() => parse(`${"[".repeat(32)}${"]".repeat(32)}`.replace(/^\[/, '{"a":[').replace(/\]$/, "]}"), 32))).toBe("JSON_TOO_DEEP");
    expect(code(() => parse(`{"a":${"[".repeat(30)}${"]".repeat(30)}}`, 32))).toBe("ok");
    expect(code(() => scanJson("[".repeat(100_000), 32))).toBe("JSON_TOO_DEEP");
  });

  it("refuses bytes that are not UTF-8", () => {
    expect(code(() => parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 32))).toBe("INVALID_JSON");
  });

  it("parses any JSON object without repeated keys exactly as JSON.parse does", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 6 })), (obj) => {
        const text = JSON.stringify(clean(obj));
        expect(parse(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it("finds a key repeated anywhere in random objects", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1 }), fc.jsonValue({ maxDepth: 2 }), (obj, extra) => {
        const o = clean(obj);
        const keys = Object.keys(o);
        fc.pre(keys.length > 0);
        const inner = JSON.stringify(o);
        // append a second copy of the first key to the same object
        const text = `{"wrap":${inner.slice(0, -1)},${JSON.stringify(keys[0])}:${JSON.stringify(clean(extra))}}}`;
        expect(code(() => parse(text, 64))).toBe("JSON_DUPLICATE_KEY");
      }),
      { numRuns: 300 },
    );
  });
});

describe("the Laravel routes' bodies", () => {
  const form = (text: string, depth = 4) => parseFormBody(Buffer.from(text), depth);

  it("reads PHP's empty array as no fields, and only there", () => {
    expect(parseJsonBody(Buffer.from("[]"), 4, true)).toEqual({});
    expect(code(() => parseJsonBody(Buffer.from("[1]"), 4, true))).toBe("VALIDATION_ERROR");
    expect(code(() => parseJsonBody(Buffer.from("[]"), 4))).toBe("VALIDATION_ERROR");
  });

  it("parses forms as http_build_query writes them, every value a string", () => {
    expect(form("workspace_id=42&session_id=a+b&metadata%5Bplan%5D=pro&metadata%5Bseats%5D=3&tags%5B%5D=x&tags%5B%5D=y&empty=")).toEqual({
      workspace_id: "42",
      session_id: "a b",
      metadata: { plan: "pro", seats: "3" },
      tags: ["x", "y"],
      empty: "",
    });
  });

  it("refuses prototype keys, deep nesting, too many fields, bad encodings", () => {
    for (const k of ["__proto__%5Bx%5D=1", "a%5Bconstructor%5D=1", "prototype=1"]) expect(code(() => form(k))).toBe("VALIDATION_ERROR");
    expect(code(() => form("a%5Bb%5D%5Bc%5D%5Bd%5D%5Be%5D=1"))).toBe("JSON_TOO_DEEP");
    expect(code(() => form(Array.from({ length: 1001 }, (_, i) => `f${i}=1`).join("&")))).toBe("VALIDATION_ERROR");
    expect(code(() => form("a=%E0%A4%A"))).toBe("ok"); // a bad escape in a value stays literal, as PHP keeps it
    expect(code(() => form("%E0%A4%A=1"))).toBe("MALFORMED_REQUEST");
    expect(code(() => parseFormBody(Buffer.from([0x61, 0x3d, 0xff]), 4))).toBe("INVALID_JSON");
  });
});
