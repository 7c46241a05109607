import { ACK_LEVELS, CHAT_ID_PATTERN, CONTACT_ID_PATTERN, GROUP_ID_PATTERN, ackLevelOf, ackValueOf, mediaKindOf, parseId, parsePhone, parseUserJid, userJid } from "../../lib/whatsapp";

describe("WhatsApp ids", () => {
  it("reads a phone number in any of its written forms as one canonical user id", () => {
    for (const v of ["15550001111", "+15550001111", "15550001111@c.us", "15550001111@s.whatsapp.net"]) {
      expect(parseId(v)).toEqual({ kind: "user", user: "15550001111", server: "c.us", serialized: "15550001111@c.us" });
    }
    expect(parseUserJid("+15550001111")).toBe("15550001111");
    expect(userJid("15550001111")).toBe("15550001111@c.us");
  });

  it("knows LIDs, groups (old and new form) and channels", () => {
    expect(parseId("123456789012345@lid")).toMatchObject({ kind: "lid", serialized: "123456789012345@lid" });
    expect(parseId("120363025246125888@g.us")).toMatchObject({ kind: "group" });
    expect(parseId("15550001111-1610000000@g.us")).toMatchObject({ kind: "group", user: "15550001111-1610000000" });
    expect(parseId("120363144038483540@newsletter")).toMatchObject({ kind: "newsletter" });
    expect(parseUserJid("123@lid")).toBeUndefined();
  });

  it("refuses anything else: status broadcasts, letters, path tricks, short or long numbers, other types", () => {
    for (const v of ["status@broadcast", "abc@c.us", "../15550001111@c.us", "1555@c.us", "1".repeat(21), "15550001111@c.us/x", "15550001111@C.US", "", " 15550001111", "15550001111-1@c.us", 15550001111, null, undefined, {}]) {
      expect(parseId(v)).toBeUndefined();
    }
    expect(parsePhone("++15550001111")).toBeUndefined();
  });

  it("validates with patterns that accept exactly what the parser accepts", () => {
    const samples = ["15550001111", "+15550001111", "15550001111@c.us", "15550001111@s.whatsapp.net", "1@lid", "1-1@g.us", "15550001111-1@g.us", "1@g.us", "2@newsletter", "status@broadcast", "x@c.us", "15550001111@g.us.evil"];
    for (const v of samples) expect(CHAT_ID_PATTERN.test(v)).toBe(parseId(v) !== undefined);
    expect(CONTACT_ID_PATTERN.test("1@lid")).toBe(true);
    expect(CONTACT_ID_PATTERN.test("1@g.us")).toBe(false);
    expect(GROUP_ID_PATTERN.test("120363025246125888@g.us")).toBe(true);
    expect(GROUP_ID_PATTERN.test("15550001111@c.us")).toBe(false);
  });
});

describe("acks and message types", () => {
  it("maps WhatsApp's numeric acks (-1..4) to names and back", () => {
    expect(ACK_LEVELS.map((l) => ackValueOf(l))).toEqual([-1, 0, 1, 2, 3, 4]);
    expect(ackLevelOf(-1)).toBe("ERROR");
    expect(ackLevelOf(3)).toBe("READ");
    expect(ackLevelOf(5)).toBeUndefined();
  });

  it("shows media by its MIME type's family, anything else as a document", () => {
    expect(mediaKindOf("image/png")).toBe("image");
    expect(mediaKindOf("video/mp4")).toBe("video");
    expect(mediaKindOf("audio/ogg")).toBe("audio");
    expect(mediaKindOf("application/pdf")).toBe("document");
  });
});
