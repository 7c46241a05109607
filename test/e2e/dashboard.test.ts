// The operator dashboard in real Chromium against a real wafleet process (embedded mode, simulator
// engine, the simulated network in its own process): everything a person does by clicking, from
// sign-in to a linked session, messages both ways, webhooks with a dead letter replayed, backups,
// a workspace key's limits, thousands of sessions, phones and the keyboard.
import { promises as fs } from "node:fs";
import path from "node:path";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { mapLimit } from "../helpers/cluster";
import { DashboardBrowser, PHONE, type DashboardPage } from "../helpers/dashboard";
import { request } from "../helpers/http";
import { freePort, NodeProcess, startSimProcess, tempDir, waitFor } from "../helpers/processes";
import { WebhookReceiver } from "../helpers/webhook-receiver";

const KEY = "dashboard-e2e-admin-key-0123456789";
const CONTACT = "15550002222";
const PHONE_NUMBER = "15557770001";

let dataDir: string;
let sim: { proc: NodeProcess; url: string };
let node: NodeProcess;
let api: string;
let port: number;
let browser: DashboardBrowser;
let admin: DashboardPage;
let receiver: WebhookReceiver;

const call = (method: string, p: string, body?: unknown, key = KEY) => request(api, method, `/api/v1${p}`, { key, body });

beforeAll(async () => {
  dataDir = await tempDir("dashboard-e2e");
  sim = await startSimProcess();
  port = await freePort();
  api = `http://127.0.0.1:${port}`;
  node = await startNode();
  receiver = await new WebhookReceiver().start();
  browser = await DashboardBrowser.launch();
  admin = await browser.page(api);
}, 90000);

async function startNode(): Promise<NodeProcess> {
  const proc = new NodeProcess("wafleet", "dist/bin/wafleet.js", {
    DATA_DIR: dataDir,
    API_PORT: String(port),
    API_HOST: "127.0.0.1",
    API_KEYS: KEY,
    WA_SIM_URL: sim.url,
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_MAX_ATTEMPTS: "1",
    BACKUP_TARGET: `file://${path.join(dataDir, "backups")}`,
    API_RATE_LIMIT: "0",
  });
  await proc.waitForOutput(/Dashboard on http/, 60000);
  return proc;
}

afterAll(async () => {
  await browser?.close();
  await receiver?.down();
  await node?.kill("SIGKILL");
  await sim?.proc.kill("SIGKILL");
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe("the dashboard at /", () => {
  it("is served by the api role with a strict CSP, and leaves the API's own 404 and 405 alone", async () => {
    const page = await request(api, "GET", "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self'/);
    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(page.body.toString())?.[1];
    expect(script).toBeDefined();
    const js = await request(api, "GET", script!);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toContain("immutable");

    const missing = await request(api, "GET", "/api/v1/nope", { key: KEY });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("NOT_FOUND");
    const wrongMethod = await request(api, "PUT", "/api/v1/cluster", { key: KEY });
    expect(wrongMethod.status).toBe(405);
    expect((await request(api, "GET", "/assets/../../package.json")).status).toBe(404);
    expect((await request(api, "GET", "/api/v1/openapi.json")).json.paths["/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/simulated-scan"]).toBeDefined();
  });

  it("refuses a wrong key with a clear 401, then signs in with the admin key", async () => {
    await admin.screenshot("01-sign-in");
    await admin.fill("#api-key", "not-a-key-at-all-123");
    await admin.page.click("form.signin button[type=submit]");
    await admin.waitForText("form.signin", "refused (401)");
    await admin.fill("#api-key", KEY);
    await admin.page.click("form.signin button[type=submit]");
    await admin.waitForText("header.topbar", "admin key");
    expect(await admin.page.evaluate(() => (globalThis as any).sessionStorage.getItem("wafleet.apiKey"))).toBe(KEY);
    await admin.waitForText("main", "Workspaces");
  });

  it("creates a session, shows its QR, links it with a simulated phone and sees WORKING without a reload", async () => {
    await admin.fill("#open-ws", "acme");
    await admin.clickButton("Open workspace");
    await admin.waitForText("#ws-title", "acme");
    await admin.page.click("details.card summary");
    await admin.fill("#new-session-id", "main");
    await admin.clickButton("Create session");
    await admin.page.waitForSelector("img[data-testid=qr]", { timeout: 20000 });
    await admin.page.evaluate(() => ((globalThis as any).__sameDocument = true));

    // the QR on screen scans to the value the API gives for the session
    const image = await admin.page.$eval("img[data-testid=qr]", (img) => (img as any).src as string);
    const png = PNG.sync.read(Buffer.from(image.replace(/^data:image\/png;base64,/, ""), "base64"));
    const decoded = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height)?.data;
    const qr = (await request(api, "GET", "/api/v1/workspaces/acme/sessions/main/qr", { key: KEY, headers: { accept: "application/json" } })).json.qr;
    expect(decoded).toBe(qr);
    await admin.screenshot("02-session-qr");

    await admin.fill("#sim-phone", PHONE_NUMBER);
    await admin.clickButton("Scan with a simulated phone");
    await admin.waitForText("#session-title", "WORKING");
    await admin.waitForText("[data-testid=session-phone]", `+${PHONE_NUMBER}`);
    expect(await admin.page.evaluate(() => (globalThis as any).__sameDocument)).toBe(true);
    expect((await call("GET", "/workspaces/acme/sessions/main")).json.status).toBe("WORKING");
    await admin.screenshot("03-session-working");
  });

  it("sends a message that lands in the contact's inbox", async () => {
    await admin.fill("#send-to", CONTACT);
    await admin.fill("#send-text-main", "hello from the dashboard");
    await admin.clickButton("Send");
    await admin.waitForText(".notice.ok", "Sent to");
    await waitFor("the message in the contact's inbox", async () => {
      const inbox = (await request(sim.url, "GET", `/sim/contacts/${CONTACT}/inbox`)).json.messages as any[];
      return inbox.some((m) => m.body === "hello from the dashboard" && String(m.from).startsWith(PHONE_NUMBER));
    });
  });

  it("shows an incoming message as it arrives, on the session and in its chats", async () => {
    const sent = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: PHONE_NUMBER, body: "hi back, live" } });
    expect(sent.status).toBe(202);
    await admin.waitForText("[data-testid=session-events]", "hi back, live");
    await admin.clickButton("Chats");
    await admin.waitForText("[data-testid=messages]", "hi back, live");
    await admin.waitForText(".chat-list", `+${CONTACT}`);
    const second = await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: PHONE_NUMBER, body: "and another one" } });
    expect(second.status).toBe(202);
    await admin.waitForText("[data-testid=messages]", "and another one");
    // a reply from the chat shows as our own message and reaches the contact
    await admin.fill("#send-text-main", "replied from the chat");
    await admin.clickButton("Send");
    await admin.waitForText("[data-testid=messages] li.mine", "replied from the chat");
    await waitFor("the reply in the contact's inbox", async () => ((await request(sim.url, "GET", `/sim/contacts/${CONTACT}/inbox`)).json.messages as any[]).some((m) => m.body === "replied from the chat"));
    await admin.screenshot("04-chats");
  });

  it("shows a received photo from its media descriptor (fetched with the key, never put in a URL)", async () => {
    const image = new PNG({ width: 40, height: 30 });
    image.data.fill(200);
    const bytes = PNG.sync.write(image);
    const q = new URLSearchParams({ to: PHONE_NUMBER, body: "a photo for the dashboard" });
    expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send-media?${q}`, { rawBody: bytes, headers: { "content-type": "image/png" } })).status).toBe(202);
    await admin.waitForText("[data-testid=messages]", "a photo for the dashboard");
    const width = await admin.page.waitForFunction(
      () => {
        const imgs = [...(globalThis as any).document.querySelectorAll("[data-testid=messages] img.media")] as any[];
        const loaded = imgs.find((i) => i.complete && i.naturalWidth > 0 && String(i.src).startsWith("blob:"));
        return loaded ? loaded.naturalWidth : false;
      },
      { timeout: 20000, polling: 100 },
    );
    expect(await width.jsonValue()).toBe(40);
    expect(admin.urls.some((u) => /\/media\/[0-9A-Z]{26}$/.test(u))).toBe(true);
    expect(admin.urls.filter((u) => u.includes(KEY))).toEqual([]);
  });

  it("reads chats and history from the API, replies quoting a message, reacts, and shows the contact's reaction live", async () => {
    // a reloaded page has seen no events: what it shows now comes from the chats and history routes
    await admin.page.reload();
    await admin.waitForText("[data-testid=messages]", "hello from the dashboard");
    await admin.waitForText("[data-testid=messages]", "and another one");
    await admin.waitForText(".chat-list", `+${CONTACT}`);
    // the simulated network's record of the account's chat is the oracle
    const history = async () => (await request(sim.url, "GET", `/sim/accounts/${PHONE_NUMBER}/chats/${CONTACT}@c.us/messages`)).json.messages as any[];
    const quoted = (await history()).find((m) => m.body === "and another one");
    expect(quoted).toBeDefined();

    await admin.page.click('button[aria-label="Reply to and another one"]');
    await admin.waitForText(".replying", "and another one");
    await admin.fill("#send-text-main", "a quoted reply");
    await admin.clickButton("Send");
    await admin.waitForText("[data-testid=messages] li.mine", "a quoted reply");
    await admin.waitForText("[data-testid=messages] li.mine .quote", "and another one");
    await waitFor("the reply quoting the message on the network", async () => (await history()).some((m) => m.body === "a quoted reply" && m.replyTo === quoted.id));

    await admin.page.click('button[aria-label="React 👍 to and another one"]');
    await waitFor("our reaction on the network", async () => (await history()).find((m) => m.id === quoted.id)?.reactions?.[PHONE_NUMBER] === "👍");
    await admin.page.waitForSelector('button[aria-label="Remove your reaction to and another one"]', { timeout: 20000 });

    // the contact reacts to our reply: it shows without a reload
    const ours = (await history()).find((m) => m.body === "a quoted reply");
    expect((await request(sim.url, "POST", `/sim/contacts/${CONTACT}/react`, { body: { to: PHONE_NUMBER, messageId: ours.id, emoji: "❤️" } })).status).toBe(200);
    await admin.waitForText(`[data-message-id="${ours.id}"] .reactions`, "❤️");
    await admin.screenshot("04b-chats-reply-reaction");
  });

  it("sets a webhook, rotates its secret (shown once), and replays a dead letter", async () => {
    receiver.status = () => 400; // a 4xx is a dead letter at once
    await admin.go("#/w/acme/webhook");
    await admin.fill("#hook-url", receiver.url);
    await admin.clickButton("Save");
    await admin.waitForText(".notice.ok", "generated the signing secret");
    const first = await admin.page.$eval("#hook-secret", (i) => (i as any).value as string);
    expect(first).toMatch(/^whsec_/);
    await admin.clickButton("Rotate secret");
    const asked = await admin.confirm();
    expect(asked).toMatch(/shown once/);
    await admin.waitForText(".notice.ok", "Secret rotated");
    const secret = await admin.page.$eval("#hook-secret", (i) => (i as any).value as string);
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(first);
    expect((await call("GET", "/workspaces/acme/webhook")).json).not.toHaveProperty("secret");
    receiver.setSecret(secret);

    // an incoming message becomes a dead letter (the receiver answers 400)
    await request(sim.url, "POST", `/sim/contacts/${CONTACT}/send`, { body: { to: PHONE_NUMBER, body: "for the webhook" } });
    await receiver.until("a refused delivery", () => receiver.requests.some((r) => r.body?.message?.body === "for the webhook"));
    const deadId = receiver.requests.find((r) => r.body?.message?.body === "for the webhook")!.id;
    await waitFor("the dead letter listed", async () => {
      await admin.clickButton("Refresh", "#deliveries-title + .row, section[aria-labelledby=deliveries-title]");
      return (await admin.text("[data-testid=deliveries]")).includes(deadId);
    });
    await admin.screenshot("05-webhook-dead-letter");

    receiver.status = () => 200;
    await admin.page.click(`tr[data-delivery="${deadId}"] button`);
    await admin.waitForText(".notice.ok", "Replaying");
    await receiver.until("the replayed delivery, signed with the rotated secret", () => receiver.requests.some((r) => r.id === deadId && r.status === 200 && r.verified));
    await waitFor("the delivery no longer a dead letter", async () => {
      const failed = (await call("GET", "/workspaces/acme/webhook/deliveries?status=failed")).json as any[];
      return !failed.some((d) => d.id === deadId);
    });
  });

  it("takes a backup, verifies it, and restores a workspace after naming the sessions it stops", async () => {
    await admin.go("#/backups");
    await admin.waitForText("#backups-title", "Backups");
    await admin.clickButton("Snapshot now");
    await admin.waitForText(".notice.ok", /Snapshot \S+: 1 sessions in 1 workspaces, verified/, 60000);
    await admin.waitForText("[data-testid=snapshots]", "verified");
    await admin.page.click("[data-testid=snapshots] button[aria-label^='Verify']");
    await admin.waitForText(".notice.ok", "archives intact", 60000);
    await admin.page.click("[data-testid=snapshots] button[aria-label^='Restore']");
    await admin.waitForText("#restore-title", "Restore from");
    await admin.clickButton("Restore workspace…");
    await admin.page.waitForSelector("dialog[open] [data-testid=restore-sessions]");
    await admin.screenshot("06-backups-restore-confirm");
    const asked = await admin.confirm();
    expect(asked).toContain("main");
    expect(asked).toMatch(/will be stopped/);
    await admin.waitForText("section[aria-labelledby=restore-title] .notice", /Restored in \d+ ms: main: restarted/, 60000);
    await waitFor("main WORKING again after the restore, no new scan", async () => (await call("GET", "/workspaces/acme/sessions/main")).json.status === "WORKING", 30000);
  });

  it("shows the cluster of one embedded node, with its memory", async () => {
    await admin.go("#/cluster");
    await admin.waitForText("[data-testid=nodes]", "up");
    await admin.waitForText("[data-testid=nodes]", /MB of \d/);
    await admin.waitForText("[data-testid=assignments]", "acme");
    await admin.screenshot("07-cluster");
  });

  it("lets a workspace key see its own workspace only, and no admin page", async () => {
    const created = await call("POST", "/workspaces/acme/keys", { label: "dashboard test" });
    expect(created.status).toBe(201);
    const ws = await browser.page(api);
    try {
      await ws.signIn(created.json.key);
      await ws.waitForText("#ws-title", "acme");
      await ws.waitForText("[data-testid=sessions]", "main");
      const nav = await ws.text("header nav");
      expect(nav).not.toMatch(/Cluster|Backups|Workspaces|Dead letters/);
      await ws.go("#/cluster");
      await ws.waitForText("#error-title", "Not allowed (403)");
      expect(await ws.text("main")).toMatch(/needs an admin key/);
      await ws.go("#/w/other");
      await ws.waitForText("#error-title", "Not allowed (403)");
      expect(await ws.text("main")).toMatch(/another workspace/);
      await ws.go("#/backups");
      await ws.waitForText("#error-title", "Not allowed (403)");
      await ws.screenshot("08-workspace-key-forbidden");
      // and the key never appeared in any URL the page requested
      expect(ws.urls.length).toBeGreaterThan(3);
      expect(ws.urls.filter((u) => u.includes(created.json.key))).toEqual([]);
      expect(ws.errors).toEqual([]);
    } finally {
      await ws.close();
    }
  });

  it("keeps a workspace of 1,500 sessions quick: one page of rows, filters, live rows", async () => {
    const ids = Array.from({ length: 1500 }, (_, i) => `s-${String(i).padStart(5, "0")}`);
    await mapLimit(ids, 16, async (sessionId) => {
      const r = await call("POST", "/workspaces/big/sessions", { sessionId, start: false });
      if (r.status !== 201) throw new Error(`create ${sessionId}: ${r.status} ${r.body.toString()}`);
    });
    await admin.go("#/w/big");
    await admin.waitForText(".pager", "Page 1 of 30 (1500 sessions)", 30000);
    expect(await admin.page.$$eval("[data-testid=sessions] tbody tr", (rows) => rows.length)).toBe(50);
    await admin.clickButton("Next");
    await admin.waitForText(".pager", "Page 2 of 30");
    await admin.waitForText("[data-testid=sessions]", "s-00050");
    await admin.fill("#session-filter", "s-01499");
    await admin.waitForText("[data-testid=sessions]", "s-01499");
    expect(await admin.page.$$eval("[data-testid=sessions] tbody tr", (rows) => rows.length)).toBe(1);
    await admin.fill("#session-filter", "s-0000");
    // a row on screen follows its session live
    expect((await call("POST", "/workspaces/big/sessions/s-00003/start")).status).toBe(200);
    await admin.waitForText("tr[data-session=s-00003]", "SCAN_QR_CODE");
    await admin.page.select("#status-filter", "SCAN_QR_CODE");
    await admin.waitForText("[data-testid=sessions]", "s-00003");
    expect(await admin.page.$$eval("[data-testid=sessions] tbody tr", (rows) => rows.length)).toBe(1);
    await admin.page.select("#status-filter", "");
    await admin.fill("#session-filter", "");
    await admin.screenshot("09-sessions-1500");
  }, 180000);

  it("works on a phone-sized screen in dark mode, with labelled controls reachable by keyboard", async () => {
    const pages = ["#/w/acme", "#/w/acme/s/main", "#/w/acme/webhook", "#/cluster", "#/backups", "#/dead-letters", "#/"];
    for (const hash of pages) {
      await admin.go(hash);
      await admin.page.waitForSelector("main h1");
      await admin.page.waitForFunction(() => !/Loading…/.test((globalThis as any).document.querySelector("main").innerText));
      expect({ hash, unlabelled: await admin.unlabelledControls() }).toEqual({ hash, unlabelled: [] });
    }
    await admin.go("#/w/acme/s/main");
    await admin.waitForText("#session-title", "WORKING");
    const order = await admin.tabOrder();
    expect(order[0]).toBe("Skip to content");
    expect(order).toEqual(expect.arrayContaining(["Sessions", "Cluster", "Sign out", "Start", "Stop", "Restart", "Log out", "Delete", "Chats", "To (phone number or chat id)", "Send"]));

    await admin.page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
    await admin.page.setViewport(PHONE);
    expect(await admin.page.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.body).backgroundColor)).toBe("rgb(15, 18, 22)");
    for (const [hash, name] of [
      ["#/w/acme/s/main", "10-phone-session"],
      ["#/w/big", "11-phone-sessions"],
      ["#/cluster", "12-phone-cluster"],
    ]) {
      await admin.go(hash!);
      await admin.page.waitForSelector("main h1");
      expect({ hash, fits: await admin.fitsWidth() }).toEqual({ hash, fits: true });
      await admin.screenshot(name!);
    }
    await admin.page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
    // leaving the phone's isMobile/hasTouch makes Puppeteer reload the page: let the app come back
    // (signed in, its page rendered) before the next test navigates
    await admin.page.setViewport({ width: 1280, height: 800 });
    await admin.page.waitForSelector("main h1", { timeout: 20000 });
    expect(admin.errors).toEqual([]);
    expect(admin.urls.filter((u) => u.includes(KEY))).toEqual([]);
    // nothing was fetched from anywhere but the gateway itself (no CDN, no font service); blob: URLs
    // of the page's own origin are media it already fetched from the gateway, held in memory
    expect(admin.urls.filter((u) => !u.startsWith(`${api}/`) && !u.startsWith("data:") && !u.startsWith(`blob:${api}/`))).toEqual([]);
  });

  it("links a second session by pairing code, and stops showing the QR the network no longer takes", async () => {
    await admin.go("#/w/acme");
    await admin.waitForText("#ws-title", "acme");
    await admin.page.click("details.card summary");
    await admin.fill("#new-session-id", "bycode");
    await admin.clickButton("Create session");
    await admin.page.waitForSelector("img[data-testid=qr]", { timeout: 20000 });
    await admin.fill("#pair-phone", "15557770002");
    await admin.clickButton("Get a pairing code");
    await admin.page.waitForSelector("[data-testid=pairing-code]", { timeout: 20000 });
    const code = await admin.text("[data-testid=pairing-code]");
    await admin.waitForText(".qr-wait", "A pairing code is pending");
    expect(await admin.page.$("img[data-testid=qr]")).toBeNull();
    await admin.screenshot("12b-session-pairing-code");
    expect((await request(sim.url, "POST", "/sim/link", { body: { code: code.trim(), phone: "15557770002" } })).status).toBe(200);
    await admin.waitForText("#session-title", "WORKING");
    expect((await call("DELETE", "/workspaces/acme/sessions/bycode")).status).toBe(204);
  });

  it("deletes a session after a confirmation, and signs out", async () => {
    await admin.go("#/w/acme/s/main");
    await admin.waitForText("#session-title", "main");
    await admin.clickButton("Delete");
    expect(await admin.confirm()).toMatch(/cannot be undone/);
    await admin.waitForText("#ws-title", "acme");
    expect((await call("GET", "/workspaces/acme/sessions/main")).status).toBe(404);
    await admin.clickButton("Sign out");
    await admin.page.waitForSelector("#api-key");
    expect(await admin.page.evaluate(() => (globalThis as any).sessionStorage.getItem("wafleet.apiKey"))).toBeNull();
  });

  it("says so when the gateway is down, and recovers by itself when it is back", async () => {
    await admin.signIn(KEY);
    await admin.go("#/cluster");
    await admin.waitForText("[data-testid=nodes]", "up");
    await node.kill("SIGKILL");
    await admin.waitForText("[role=alert]", /gateway is not answering/i, 20000);
    await admin.screenshot("13-gateway-down");
    node = await startNode();
    await admin.page.waitForFunction(() => !(globalThis as any).document.querySelector(".banner"), { timeout: 30000 });
    await admin.waitForText("[data-testid=nodes]", "up");
  }, 90000);
});
