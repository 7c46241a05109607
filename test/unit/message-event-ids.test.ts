// Events about a message carry an id derived from the message, so a redelivery is a duplicate
// (the event log's and every webhook receiver's deduplication), never a new message.
import { messageEventId } from "../../lib/events";

describe("message event ids", () => {
  it("derives a valid ULID from the message: the same message gets the same id, another message or session another one", () => {
    const scope = { workspaceId: "acme", sessionId: "main" };
    const a = messageEventId("wa.message.received", scope, "false_4915112345678@c.us_ABC", 1764383243);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(messageEventId("wa.message.received", scope, "false_4915112345678@c.us_ABC", 1764383243)).toBe(a);
    expect(messageEventId("wa.message.received", scope, "false_4915112345678@c.us_ABD", 1764383243)).not.toBe(a);
    expect(messageEventId("wa.message.received", { ...scope, sessionId: "other" }, "false_4915112345678@c.us_ABC", 1764383243)).not.toBe(a);
    expect(messageEventId("wa.message.sent", scope, "false_4915112345678@c.us_ABC", 1764383243)).not.toBe(a);
    // its time part is the message's, so event ids still sort by time
    expect(messageEventId("wa.message.received", scope, "x", 1764383244) > messageEventId("wa.message.received", scope, "y", 1764383243)).toBe(true);
  });
});
