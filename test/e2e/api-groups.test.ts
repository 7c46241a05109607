// Groups, calls and labels over REST (DESIGN section 6, issue 19) on the simulator engine, against
// the simulated network's own record (the oracle): groups and their participants with a result per
// participant, settings enforced, invite codes, pictures, mentions of everyone; wa.group.update with
// who did it, group messages with their author, calls rejected by hand or by the session's policy
// (kept in meta.json across a restart), labels; the answers held against the OpenAPI document, the
// events delivered to a webhook, and hostile group input refused with stable codes.
import { openEventStream, request } from "../helpers/http";
import { waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";
import { ADMIN, expectCleanError, linkSession, mismatch, startApiNode, type ApiNode } from "./api-harness";

const ME = "15550001111";
const ANA = "4915112345678";
const BEN = "4915100000002";
const GHOST = "4915100000404";
const SHY = "4915100000777";
const S = "/api/v1/workspaces/acme/sessions/main";
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

let node: ApiNode;
let receiver: WebhookReceiver;
let doc: any;
const sim = (method: string, p: string, body?: unknown) => request(node.sim, method, p, { body });
const oracle = async (groupId: string) => (await sim("GET", `/sim/groups/${groupId}`)).json;

beforeAll(async () => {
  receiver = await new WebhookReceiver().start();
  node = await startApiNode({ WEBHOOK_ALLOW_PRIVATE: "true", WEBHOOK_BACKOFF_MS: "50" });
  await linkSession(node, "acme", "main", ME);
  const hook = await node.call("PUT", "/api/v1/workspaces/acme/webhook", { body: { url: receiver.url, events: ["wa.group.update", "wa.call.received", "wa.call.rejected", "wa.label.update"] } });
  expect(hook.status).toBe(200);
  receiver.setSecret(hook.json.secret);
  doc = (await node.call("GET", "/api/v1/openapi.json")).json;
}, 60000);

afterAll(async () => {
  await node?.stop();
  await receiver?.close();
});

/** The answer fits the OpenAPI document's schema for the route. */
function fits(res: { status: number; json: any }, method: string, documented: string): void {
  const schema = doc.paths[`/api/v1/workspaces/{workspaceId}/sessions/{sessionId}${documented}`][method.toLowerCase()].responses[String(res.status)].content["application/json"].schema;
  expect(mismatch(res.json, schema, doc)).toBeUndefined();
}

describe("groups", () => {
  let groupId: string;

  it("creates a group with a result per participant, and reads it as the network records it", async () => {
    await sim("POST", `/sim/contacts/${GHOST}/profile`, { onWhatsApp: false });
    await sim("POST", `/sim/contacts/${SHY}/profile`, { addToGroups: "nobody" });
    const created = await node.call("POST", `${S}/groups`, { body: { subject: "Support", participants: [ANA, `${BEN}@c.us`, GHOST, SHY] } });
    expect(created.status).toBe(201);
    fits(created, "POST", "/groups");
    groupId = created.json.id;
    expect(created.json.results).toEqual([
      { id: `${ANA}@c.us`, status: "added" },
      { id: `${BEN}@c.us`, status: "added" },
      { id: `${GHOST}@c.us`, status: "not_on_whatsapp" },
      { id: `${SHY}@c.us`, status: "invite_sent" },
    ]);
    const got = await node.call("GET", `${S}/groups/${groupId}`);
    fits(got, "GET", "/groups/{groupId}");
    expect(got.json).toMatchObject({ id: groupId, subject: "Support", owner: `${ME}@c.us`, settings: { announce: false, restrict: false } });
    expect(got.json.participants).toEqual((await oracle(groupId)).participants);
    const list = await node.call("GET", `${S}/groups?limit=10`);
    fits(list, "GET", "/groups");
    expect(list.json.items.map((g: any) => g.id)).toEqual([groupId]);
  });

  it("updates subject, description and settings; adds, promotes, demotes and removes with per-participant results", async () => {
    const patched = await node.call("PATCH", `${S}/groups/${groupId}`, { body: { subject: "Help desk", description: "Ask here", settings: { restrict: true } } });
    fits(patched, "PATCH", "/groups/{groupId}");
    expect(await oracle(groupId)).toMatchObject({ subject: "Help desk", description: "Ask here", settings: { announce: false, restrict: true } });

    const added = await node.call("POST", `${S}/groups/${groupId}/participants`, { body: { participants: [ANA, "4915100000003"] } });
    fits(added, "POST", "/groups/{groupId}/participants");
    expect(added.json.participants).toEqual([
      { id: `${ANA}@c.us`, status: "already_member" },
      { id: "4915100000003@c.us", status: "added" },
    ]);
    const promoted = await node.call("POST", `${S}/groups/${groupId}/participants/${ANA}/promote`);
    expect(promoted.json).toEqual({ groupId, participants: [{ id: `${ANA}@c.us`, status: "promoted" }] });
    expect((await oracle(groupId)).participants.find((p: any) => p.id === `${ANA}@c.us`).admin).toBe(true);
    // promoting a non-member is that participant's error, not the request's
    const stranger = await node.call("POST", `${S}/groups/${groupId}/participants/4915100000999/promote`);
    expect([stranger.status, stranger.json.participants]).toEqual([200, [{ id: "4915100000999@c.us", status: "not_a_member" }]]);
    expect((await node.call("POST", `${S}/groups/${groupId}/participants/${ANA}/demote`)).json.participants).toEqual([{ id: `${ANA}@c.us`, status: "demoted" }]);
    const removed = await node.call("DELETE", `${S}/groups/${groupId}/participants/4915100000003@c.us`);
    expect(removed.json.participants).toEqual([{ id: "4915100000003@c.us", status: "removed" }]);
    expect((await oracle(groupId)).participants.map((p: any) => p.id)).toEqual([`${ME}@c.us`, `${ANA}@c.us`, `${BEN}@c.us`]);
  });

  it("sends to the group with everyone mentioned; a member's message arrives with its author", async () => {
    const sent = await node.call("POST", `${S}/messages`, { body: { to: groupId, text: "meeting at 5", mentionAll: true } });
    expect(sent.status).toBe(201);
    const inbox = (await sim("GET", `/sim/contacts/${BEN}/inbox`)).json.messages;
    expect(inbox.find((m: any) => m.id === sent.json.id)).toMatchObject({ to: groupId, mentions: [`${ANA}@c.us`, `${BEN}@c.us`] });
    const notGroup = await node.call("POST", `${S}/messages`, { body: { to: ANA, text: "x", mentionAll: true } });
    expect([notGroup.status, notGroup.json.error.code]).toEqual([400, "VALIDATION_ERROR"]);

    const stream = await openEventStream(node.api, "/api/v1/workspaces/acme/events?types=wa.message.received", ADMIN);
    try {
      const posted = (await sim("POST", `/sim/groups/${groupId}/send`, { from: ANA, body: "on my way" })).json.id;
      await waitFor("the group message", async () => stream.events.some((e) => e.data.message?.id === posted));
      expect(stream.events.find((e) => e.data.message?.id === posted)!.data.message).toMatchObject({ from: groupId, chatId: groupId, author: `${ANA}@c.us`, body: "on my way" });
    } finally {
      stream.close();
    }
    const history = await node.call("GET", `${S}/chats/${groupId}/messages?limit=5`);
    expect(history.json.items[0]).toMatchObject({ author: `${ANA}@c.us`, body: "on my way" });
  });

  it("is refused as WhatsApp refuses it where the account is not an admin, and reports who changed what", async () => {
    const theirs = (await sim("POST", "/sim/groups", { by: ANA, subject: "Announcements", participants: [ME, BEN] })).json.group.id;
    await waitFor("the account sees the group", async () => (await node.call("GET", `${S}/groups/${theirs}`)).status === 200);
    await sim("POST", `/sim/groups/${theirs}/update`, { by: ANA, settings: { announce: true, restrict: true } });
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
      expect([method, p, r.status, r.json.error.code]).toEqual([method, p, 403, "GROUP_NOT_ADMIN"]);
      expectCleanError(r);
    }
    await sim("POST", `/sim/groups/${theirs}/participants`, { by: ANA, action: "promote", participants: [ME] });
    await sim("POST", `/sim/groups/${theirs}/participants`, { by: ANA, action: "remove", participants: [BEN] });
    await receiver.until("the group's changes", () => ["create", "settings", "promote", "remove"].every((c) => receiver.requests.some((r) => r.body?.event === "wa.group.update" && r.body.groupId === theirs && r.body.change === c)), 20000);
    const changes = receiver.requests.filter((r) => r.body?.event === "wa.group.update" && r.body.groupId === theirs).map((r) => r.body);
    expect(changes.find((c) => c.change === "create")).toMatchObject({ by: `${ANA}@c.us`, participants: [`${ME}@c.us`, `${BEN}@c.us`], value: "Announcements", sessionId: "main" });
    expect(changes.find((c) => c.change === "settings")).toMatchObject({ by: `${ANA}@c.us`, value: { announce: true, restrict: true } });
    expect(changes.find((c) => c.change === "promote")).toMatchObject({ by: `${ANA}@c.us`, participants: [`${ME}@c.us`] });
    expect(changes.find((c) => c.change === "remove")).toMatchObject({ by: `${ANA}@c.us`, participants: [`${BEN}@c.us`] });
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    // an admin now: it may post
    expect((await node.call("POST", `${S}/messages`, { body: { to: theirs, text: "now I may" } })).status).toBe(201);
    expect((await node.call("POST", `${S}/groups/${theirs}/leave`)).json).toEqual({ groupId: theirs, left: true });
    expect((await node.call("GET", `${S}/groups/${theirs}`)).json.error.code).toBe("GROUP_NOT_FOUND");
  });

  it("hands out and revokes invite codes, joins by code or link, sets and removes the picture", async () => {
    const code = await node.call("GET", `${S}/groups/${groupId}/invite-code`);
    fits(code, "GET", "/groups/{groupId}/invite-code");
    expect(code.json).toEqual({ groupId, code: (await oracle(groupId)).inviteCode, link: `https://chat.whatsapp.com/${code.json.code}` });
    const revoked = await node.call("DELETE", `${S}/groups/${groupId}/invite-code`);
    expect(revoked.json.code).not.toBe(code.json.code);
    expect((await oracle(groupId)).inviteCode).toBe(revoked.json.code);

    const other = (await sim("POST", "/sim/groups", { by: BEN, subject: "Book club", participants: [] })).json.group.id;
    const link = `https://chat.whatsapp.com/${(await oracle(other)).inviteCode}`;
    const joined = await node.call("POST", `${S}/groups/join`, { body: { code: link } });
    expect(joined.json).toEqual({ groupId: other });
    expect((await oracle(other)).participants.map((p: any) => p.id)).toContain(`${ME}@c.us`);
    const wrong = await node.call("POST", `${S}/groups/join`, { body: { code: "AAAAAAAAAAAAAAAAAAAAAA" } });
    expect([wrong.status, wrong.json.error.code]).toEqual([404, "GROUP_INVITE_NOT_FOUND"]);

    expect((await node.call("GET", `${S}/groups/${groupId}/picture`)).json).toEqual({ groupId, picture: null });
    expect((await node.call("PUT", `${S}/groups/${groupId}/picture`, { body: { mimetype: "image/png", data: PNG } })).status).toBe(200);
    const pic = await node.call("GET", `${S}/groups/${groupId}/picture`);
    fits(pic, "GET", "/groups/{groupId}/picture");
    expect(pic.json.picture).toEqual({ mimetype: "image/png", data: PNG });
    expect((await oracle(groupId)).picture).toMatchObject({ mimetype: "image/png" });
    await node.call("DELETE", `${S}/groups/${groupId}/picture`);
    expect((await oracle(groupId)).picture).toBeNull();
  });

  it("refuses bad group ids, 1,000 participants at once, an empty patch and a picture that is not an image, with stable codes", async () => {
    const rows: Array<[string, string, unknown, number, string]> = [
      ["GET", "/groups/not-a-group", undefined, 400, "VALIDATION_ERROR"],
      ["GET", `/groups/${ANA}@c.us`, undefined, 400, "VALIDATION_ERROR"],
      ["GET", "/groups/..%2F..%2Fetc@g.us", undefined, 400, "VALIDATION_ERROR"],
      ["GET", "/groups/120363000000000000@g.us", undefined, 404, "GROUP_NOT_FOUND"],
      ["POST", `/groups/${groupId}/participants`, { participants: Array.from({ length: 1000 }, (_, i) => String(4915200000000 + i)) }, 400, "VALIDATION_ERROR"],
      ["POST", `/groups/${groupId}/participants`, { participants: [] }, 400, "VALIDATION_ERROR"],
      ["POST", `/groups/${groupId}/participants`, { participants: [ANA, ANA] }, 400, "VALIDATION_ERROR"],
      ["POST", `/groups/${groupId}/participants`, { participants: ["120363000000000000@g.us"] }, 400, "VALIDATION_ERROR"],
      ["POST", "/groups", { subject: "   ", participants: [] }, 400, "VALIDATION_ERROR"],
      ["POST", "/groups", { subject: "x".repeat(101), participants: [] }, 400, "VALIDATION_ERROR"],
      ["PATCH", `/groups/${groupId}`, {}, 400, "VALIDATION_ERROR"],
      ["PATCH", `/groups/${groupId}`, { settings: { announce: "yes" } }, 400, "VALIDATION_ERROR"],
      ["PATCH", `/groups/${groupId}`, { settings: { locked: true } }, 400, "VALIDATION_ERROR"],
      ["PUT", `/groups/${groupId}/picture`, { mimetype: "image/gif", data: PNG }, 400, "VALIDATION_ERROR"],
      ["PUT", `/groups/${groupId}/picture`, { mimetype: "image/png", data: "not base64!" }, 400, "VALIDATION_ERROR"],
      ["POST", "/groups/join", { code: "x" }, 400, "VALIDATION_ERROR"],
      ["POST", `/groups/${groupId}/participants/120363000000000000@g.us/promote`, undefined, 400, "VALIDATION_ERROR"],
      ["POST", "/calls/..%2F/reject", undefined, 400, "VALIDATION_ERROR"],
      ["PUT", "/calls/policy", { autoReject: "always" }, 400, "VALIDATION_ERROR"],
      ["PUT", "/chats/not-a-chat/labels/1", undefined, 400, "VALIDATION_ERROR"],
    ];
    for (const [method, p, body, status, code] of rows) {
      const r = await node.call(method, `${S}${p}`, { body });
      expect([method, p.slice(0, 60), r.status, r.json?.error?.code]).toEqual([method, p.slice(0, 60), status, code]);
      expectCleanError(r);
    }
    const many = await node.call("POST", `${S}/groups/${groupId}/participants`, { body: { participants: Array.from({ length: 1000 }, (_, i) => String(4915200000000 + i)) } });
    expect(JSON.stringify(many.json.error.details)).toMatch(/at most 256 participants per call/);
  });
});

describe("calls", () => {
  it("reports a call and rejects it by id; a second rejection is CALL_NOT_FOUND", async () => {
    const stream = await openEventStream(node.api, "/api/v1/workspaces/acme/events?types=wa.call.received,wa.call.rejected", ADMIN);
    try {
      const call = (await sim("POST", `/sim/contacts/${ANA}/call`, { to: ME, isVideo: true })).json;
      await waitFor("the call", async () => stream.events.some((e) => e.event === "wa.call.received"));
      expect(stream.events[0].data).toMatchObject({ callId: call.id, from: `${ANA}@c.us`, isVideo: true, isGroup: false });
      const rejected = await node.call("POST", `${S}/calls/${call.id}/reject`);
      expect(rejected.json).toEqual({ callId: call.id, rejected: true });
      expect((await sim("GET", `/sim/calls/${call.id}`)).json.state).toBe("rejected");
      await waitFor("the rejection", async () => stream.events.some((e) => e.event === "wa.call.rejected"));
      expect(stream.events.find((e) => e.event === "wa.call.rejected")!.data).toMatchObject({ callId: call.id, from: `${ANA}@c.us`, auto: false });
      const again = await node.call("POST", `${S}/calls/${call.id}/reject`);
      expect([again.status, again.json.error.code]).toEqual([404, "CALL_NOT_FOUND"]);
    } finally {
      stream.close();
    }
  });

  it("rejects every call automatically with a text reply once the policy says so, and keeps the policy across a restart", async () => {
    expect((await node.call("GET", `${S}/calls/policy`)).json).toEqual({ autoReject: false });
    const set = await node.call("PUT", `${S}/calls/policy`, { body: { autoReject: true, message: "We don't take calls here; please write." } });
    fits(set, "PUT", "/calls/policy");
    await node.restart();
    await waitFor("the session back", async () => (await node.call("GET", S)).json.status === "WORKING", 30000);
    expect((await node.call("GET", `${S}/calls/policy`)).json).toEqual({ autoReject: true, message: "We don't take calls here; please write." });

    const call = (await sim("POST", `/sim/contacts/${BEN}/call`, { to: ME })).json;
    await waitFor("the automatic rejection", async () => (await sim("GET", `/sim/calls/${call.id}`)).json.state === "rejected", 20000);
    await waitFor("the reply", async () => (await sim("GET", `/sim/contacts/${BEN}/inbox`)).json.messages.some((m: any) => m.body === "We don't take calls here; please write."), 20000);
    await receiver.until("the webhook", () => receiver.requests.some((r) => r.body?.event === "wa.call.rejected" && r.body.callId === call.id), 20000);
    expect(receiver.requests.find((r) => r.body?.event === "wa.call.rejected" && r.body.callId === call.id)!.body).toMatchObject({ from: `${BEN}@c.us`, auto: true, replied: true });
    expect(receiver.requests.some((r) => r.body?.event === "wa.call.received" && r.body.callId === call.id)).toBe(true);
    await node.call("PUT", `${S}/calls/policy`, { body: { autoReject: false } });
    expect((await node.call("GET", `${S}/calls/policy`)).json).toEqual({ autoReject: false });
  }, 90000);
});

describe("labels", () => {
  it("lists a business account's labels, a chat's labels, adds and removes one; the phone's changes arrive as events", async () => {
    const notBusiness = await node.call("GET", `${S}/labels`);
    expect([notBusiness.status, notBusiness.json.error.code]).toEqual([409, "LABELS_NOT_AVAILABLE"]);
    await sim("POST", `/sim/contacts/${ME}/profile`, { isBusiness: true });
    const lead = (await sim("POST", `/sim/accounts/${ME}/labels`, { name: "Lead" })).json;
    const paid = (await sim("POST", `/sim/accounts/${ME}/labels`, { name: "Paid", color: "#00aa00" })).json;
    const list = await node.call("GET", `${S}/labels`);
    fits(list, "GET", "/labels");
    expect(list.json.items).toEqual([lead, paid]);
    await sim("POST", `/sim/contacts/${ANA}/send`, { to: ME, body: "I'd like to buy" });
    await waitFor("the chat", async () => (await node.call("GET", `${S}/chats/${ANA}`)).status === 200);
    const put = await node.call("PUT", `${S}/chats/${ANA}/labels/${lead.id}`);
    fits(put, "PUT", "/chats/{chatId}/labels/{labelId}");
    expect(put.json).toEqual({ chatId: `${ANA}@c.us`, labels: [lead] });
    expect((await sim("GET", `/sim/accounts/${ME}/chats/${ANA}@c.us/labels`)).json.labels).toEqual([lead]);
    expect((await node.call("PUT", `${S}/chats/${ANA}/labels/99`)).json.error.code).toBe("LABEL_NOT_FOUND");
    expect((await node.call("PUT", `${S}/chats/4915100000888/labels/${lead.id}`)).json.error.code).toBe("CHAT_NOT_FOUND");
    expect((await node.call("DELETE", `${S}/chats/${ANA}/labels/${lead.id}`)).json).toEqual({ chatId: `${ANA}@c.us`, labels: [] });
    expect((await node.call("GET", `${S}/chats/${ANA}/labels`)).json).toEqual({ chatId: `${ANA}@c.us`, labels: [] });

    await sim("POST", `/sim/accounts/${ME}/labels/${paid.id}/chats`, { chatId: `${ANA}@c.us`, on: true });
    await receiver.until("the label event", () => receiver.requests.some((r) => r.body?.event === "wa.label.update"), 20000);
    expect(receiver.requests.find((r) => r.body?.event === "wa.label.update")!.body).toMatchObject({ chatId: `${ANA}@c.us`, labelId: paid.id, change: "added" });
  });
});
