// libsignal must not print session records (ratchet private keys) to the console.
import { quietLibsignal } from "../../lib/whatsapp/quiet-signal";

const SessionRecord = require("libsignal/src/session_record");

it("opens, closes and prunes Signal sessions without printing them", () => {
  quietLibsignal();
  const info = jest.spyOn(console, "info");
  const warn = jest.spyOn(console, "warn");
  const record = new SessionRecord();
  const session = { indexInfo: { closed: -1, used: 1 }, privKey: Buffer.alloc(32, 7) };
  record.closeSession(session);
  record.closeSession(session);
  record.openSession(session);
  record.openSession(session);
  expect(info).not.toHaveBeenCalled();
  expect(warn).not.toHaveBeenCalled();
  // console itself still works afterwards
  console.info("still here");
  expect(info).toHaveBeenCalledWith("still here");
  info.mockRestore();
  warn.mockRestore();
});
