// Groups over REST on the wwebjs engine (issue 19): a real node (`dist/bin/wafleet.js`,
// WA_ENGINE=wwebjs) with real Chromium running whatsapp-web.js on the fake WhatsApp Web page,
// against the simulated network's own record (the oracle): a result per participant (a private
// invite instead of an add included), who changed what as `wa.group.update`, WhatsApp's refusals
// of a non-admin as 403 GROUP_NOT_ADMIN, and the picture as WhatsApp keeps it (the library
// re-encodes it as JPEG; one Chromium cannot decode is 400).
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { sweepOrphanChromium } from "../../lib/engines/wwebjs/chromium";
import { CHROME_PATH, expectNoChromiumUnder } from "../helpers/chromium";
import { openEventStream, request } from "../helpers/http";
import { waitFor } from "../helpers/processes";
import { ADMIN, expectCleanError, linkSession, startApiNode, type ApiNode } from "./api-harness";

const ME = "15550001111";
const ANA = "4915112345678";
const BEN = "4915100000002";
const GHOST = "4915100000404";
const SHY = "4915100000777";
const S = "/api/v1/workspaces/acme/sessions/main";
/** A real 2x2 PNG (the library decodes it to re-encode it) */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=";

let node: ApiNode;
const sim = (method: string, p: string, body?: unknown) => request(node.sim, method, p, { body });
const oracle = async (groupId: string) => (await sim("GET", `/sim/groups/${groupId}`)).json;

beforeAll(async () => {
  // the embedded simulated network starts with the simulator engine installed; sessions default to wwebjs
  node = await startApiNode({ WA_ENGINE: "wwebjs", WA_ENGINES: "wwebjs,simulator", CHROME_PATH });
  await linkSession(node, "acme", "main", ME);
}, 120000);

afterAll(async () => {
  if (!node) return;
  await node.proc.kill("SIGTERM");
  await sweepOrphanChromium(node.sessionsDir);
  await expectNoChromiumUnder(node.root);
  await fs.rm(node.root, { recursive: true, force: true });
});

describe("groups on the wwebjs engine, over REST", () => {
  let groupId: string;

  it("creates a group with a result per participant, as the network records it", async () => {
    await sim("POST", `/sim/contacts/${GHOST}/profile`, { onWhatsApp: false });
    await sim("POST", `/sim/contacts/${SHY}/profile`, { addToGroups: "nobody" });
    const created = await node.call("POST", `${S}/groups`, { body: { subject: "Support", participants: [ANA, `${BEN}@c.us`, GHOST, SHY] } });
    expect(created.status).toBe(201);
    groupId = created.json.id;
    expect(created.json.results).toEqual([
      { id: `${ANA}@c.us`, status: "added" },
      { id: `${BEN}@c.us`, status: "added" },
      { id: `${GHOST}@c.us`, status: "not_on_whatsapp" },
      { id: `${SHY}@c.us`, status: "invite_sent" },
    ]);
    expect((await oracle(groupId)).participants.map((p: any) => [p.id, p.admin])).toEqual([
      [`${ME}@c.us`, true],
      [`${ANA}@c.us`, false],
      [`${BEN}@c.us`, false],
    ]);
    const got = await node.call("GET", `${S}/groups/${groupId}`);
    expect(got.json).toMatchObject({ id: groupId, subject: "Support", owner: `${ME}@c.us`, settings: { announce: false, restrict: false } });
    const added = await node.call("POST", `${S}/groups/${groupId}/participants`, { body: { participants: [SHY, ANA] } });
    expect(added.json.participants).toEqual([
      { id: `${SHY}@c.us`, status: "invite_sent" },
      { id: `${ANA}@c.us`, status: "already_member" },
    ]);
  });

  it("sets the picture WhatsApp keeps (a JPEG the library made), and refuses one Chromium cannot decode", async () => {
    expect((await node.call("PUT", `${S}/groups/${groupId}/picture`, { body: { mimetype: "image/png", data: PNG } })).status).toBe(200);
    const kept = (await oracle(groupId)).picture;
    expect(kept.mimetype).toBe("image/jpeg");
    const pic = (await node.call("GET", `${S}/groups/${groupId}/picture`)).json.picture;
    expect(pic.mimetype).toBe("image/jpeg");
    expect(createHash("sha256").update(Buffer.from(pic.data, "base64")).digest("hex")).toBe(kept.sha256);
    const garbage = await node.call("PUT", `${S}/groups/${groupId}/picture`, { body: { mimetype: "image/png", data: Buffer.from("not a picture at all").toString("base64") } });
    expect([garbage.status, garbage.json.error.code]).toEqual([400, "VALIDATION_ERROR"]);
    expectCleanError(garbage);
    expect((await oracle(groupId)).picture).toEqual(kept);
    expect((await node.call("DELETE", `${S}/groups/${groupId}/picture`)).status).toBe(200);
    expect((await oracle(groupId)).picture).toBeNull();
  });

  it("is refused as WhatsApp refuses it where the account is not an admin, and reports who changed what", async () => {
    const stream = await openEventStream(node.api, "/api/v1/workspaces/acme/events?types=wa.group.update", ADMIN);
    try {
      const theirs = (await sim("POST", "/sim/groups", { by: ANA, subject: "Announcements", participants: [ME, BEN] })).json.group.id;
      await waitFor("the account sees the group", async () => (await node.call("GET", `${S}/groups/${theirs}`)).status === 200, 20000);
      await sim("POST", `/sim/groups/${theirs}/update`, { by: ANA, settings: { announce: true, restrict: true } });
      await waitFor("the settings", async () => (await node.call("GET", `${S}/groups/${theirs}`)).json.settings?.announce === true, 20000);
      const post = await node.call("POST", `${S}/messages`, { body: { to: theirs, text: "may I?" } });
      expect([post.status, post.json.error.code]).toEqual([403, "GROUP_NOT_ADMIN"]);
      for (const [method, p, body] of [
        ["PATCH", `/groups/${theirs}`, { subject: "mine now" }],
        ["POST", `/groups/${theirs}/participants`, { participants: [GHOST] }],
        ["DELETE", `/groups/${theirs}/participants/${BEN}`, undefined],
        ["GET", `/groups/${theirs}/invite-code`, undefined],
        ["PUT", `/groups/${theirs}/picture`, { mimetype: "image/png", data: PNG }],
      ] as const) {
        const r = await node.call(method, `${S}${p}`, { body });
        expect([method, p, r.status, r.json.error?.code]).toEqual([method, p, 403, "GROUP_NOT_ADMIN"]);
        expectCleanError(r);
      }
      expect((await oracle(theirs)).subject).toBe("Announcements");
      await sim("POST", `/sim/groups/${theirs}/participants`, { by: ANA, action: "promote", participants: [ME] });
      await sim("POST", `/sim/groups/${theirs}/participants`, { by: ANA, action: "remove", participants: [BEN] });
      const changesOf = () => stream.events.map((e) => e.data).filter((d) => d?.groupId === theirs);
      await waitFor("the group's changes", () => ["create", "settings", "promote", "remove"].every((c) => changesOf().some((d) => d.change === c)), 20000);
      const changes = changesOf();
      expect(changes.find((c) => c.change === "create")).toMatchObject({ by: `${ANA}@c.us`, value: "Announcements", sessionId: "main" });
      expect(changes.find((c) => c.change === "settings")).toMatchObject({ by: `${ANA}@c.us`, value: { announce: true, restrict: true } });
      expect(changes.find((c) => c.change === "promote")).toMatchObject({ by: `${ANA}@c.us`, participants: [`${ME}@c.us`] });
      expect(changes.find((c) => c.change === "remove")).toMatchObject({ by: `${ANA}@c.us`, participants: [`${BEN}@c.us`] });
      // an admin now: it may post
      expect((await node.call("POST", `${S}/messages`, { body: { to: theirs, text: "now I may" } })).status).toBe(201);
      expect((await node.call("POST", `${S}/groups/${theirs}/leave`)).json).toEqual({ groupId: theirs, left: true });
      expect((await node.call("GET", `${S}/groups/${theirs}`)).json.error.code).toBe("GROUP_NOT_FOUND");
    } finally {
      stream.close();
    }
  });
});
