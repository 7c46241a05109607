// The operator dashboard in real Chromium (puppeteer-core, the system browser): one page per key,
// sign-in, waiting on what the page shows, accessibility checks, and screenshots saved under
// test-output/dashboard/ (git-ignored) for people to look at. Code run inside the page reaches
// the DOM through `globalThis` (the project compiles without the DOM library).
import { promises as fs } from "node:fs";
import path from "node:path";
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";
import { withSandboxFlag } from "../../lib/engines/wwebjs/chromium";
import { CHROME_PATH } from "./chromium";
import { ROOT } from "./processes";

export const SCREENSHOTS = path.join(ROOT, "test-output", "dashboard");
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

export class DashboardBrowser {
  private constructor(readonly browser: Browser) {}

  static async launch(): Promise<DashboardBrowser> {
    await fs.access(CHROME_PATH).catch(() => {
      throw new Error(`Chromium is needed for the dashboard tests and is not at ${CHROME_PATH} (set CHROME_PATH, or apt-get install chromium)`);
    });
    const browser = await puppeteer.launch({ executablePath: CHROME_PATH, headless: true, args: withSandboxFlag(["--disable-dev-shm-usage", "--no-first-run", "--disable-gpu"]) });
    await fs.mkdir(SCREENSHOTS, { recursive: true });
    return new DashboardBrowser(browser);
  }

  /** A fresh page in its own context (its own sessionStorage: one signed-in key per page). */
  async page(base: string): Promise<DashboardPage> {
    const context = await this.browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport(DESKTOP);
    const p = new DashboardPage(base, page, context);
    await page.goto(`${base}/`, { waitUntil: "load" });
    return p;
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
  }
}

export class DashboardPage {
  /** Every URL the page requested, to prove the key never travels in one. */
  readonly urls: string[] = [];
  /** Errors thrown in the page and CSP violations reported on its console. */
  readonly errors: string[] = [];

  constructor(
    readonly base: string,
    readonly page: Page,
    readonly context: BrowserContext,
  ) {
    page.on("request", (r) => this.urls.push(r.url()));
    page.on("pageerror", (e) => this.errors.push(String((e as Error).message ?? e)));
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) this.errors.push(m.text());
    });
  }

  async signIn(key: string): Promise<void> {
    await this.page.waitForSelector("#api-key");
    await this.page.type("#api-key", key);
    await this.page.click("form.signin button[type=submit]");
    await this.page.waitForSelector("header.topbar", { timeout: 15000 });
  }

  /** Navigates inside the app (a hash route: no reload). */
  async go(hash: string): Promise<void> {
    await this.page.evaluate((h) => {
      (globalThis as any).location.hash = h;
    }, hash);
  }

  /** Waits until the element matching `selector` shows `text` (a substring or a pattern). */
  async waitForText(selector: string, text: string | RegExp, timeoutMs = 20000): Promise<void> {
    const source = typeof text === "string" ? text : text.source;
    const flags = typeof text === "string" ? "" : text.flags;
    const isPattern = typeof text !== "string";
    try {
      await this.page.waitForFunction(
        (sel, src, fl, pattern) => {
          const t = [...(globalThis as any).document.querySelectorAll(sel)].map((e: any) => e.innerText).join("\n");
          return pattern ? new RegExp(src, fl).test(t) : t.includes(src);
        },
        { timeout: timeoutMs, polling: 100 },
        selector,
        source,
        flags,
        isPattern,
      );
    } catch {
      const shown = await this.text(selector).catch(() => "(nothing)");
      // nothing matched: say what the page shows instead, so a failure can be read from the log
      const page = shown ? "" : ` (no such element; at ${await this.page.evaluate(() => (globalThis as any).location.hash).catch(() => "?")} the page shows: ${(await this.text("body").catch(() => "(nothing)")).slice(0, 800)})`;
      throw new Error(`waited ${timeoutMs} ms for ${selector} to show ${String(text)}; it shows: ${shown.slice(0, 800)}${page}`);
    }
  }

  async text(selector = "body"): Promise<string> {
    return this.page.$$eval(selector, (els) => els.map((e) => (e as any).innerText as string).join("\n"));
  }

  /** Clicks the button (or link) whose visible text is exactly `label`, inside `scope`. */
  async clickButton(label: string, scope = "body"): Promise<void> {
    const done = await this.page.evaluate(
      (l, s) => {
        const root = (globalThis as any).document.querySelector(s);
        const el = [...(root?.querySelectorAll("button, a") ?? [])].find((b: any) => b.innerText.trim() === l && !b.disabled) as any;
        el?.click();
        return !!el;
      },
      label,
      scope,
    );
    if (!done) throw new Error(`no enabled button "${label}" in ${scope}; the page shows: ${(await this.text(scope)).slice(0, 600)}`);
  }

  /** Answers the open confirmation dialog with its confirm button. */
  async confirm(): Promise<string> {
    await this.page.waitForSelector("dialog[open]");
    const body = await this.text("dialog[open]");
    await this.page.click("dialog[open] .row button:last-child");
    await this.page.waitForFunction(() => !(globalThis as any).document.querySelector("dialog[open]"));
    return body;
  }

  async fill(selector: string, value: string): Promise<void> {
    await this.page.waitForSelector(selector, { timeout: 20000 });
    await this.page.$eval(selector, (el: any) => {
      el.value = "";
      el.dispatchEvent(new (globalThis as any).Event("input", { bubbles: true }));
    });
    await this.page.type(selector, value);
  }

  async screenshot(name: string): Promise<string> {
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path: file as `${string}.png`, fullPage: true });
    return file;
  }

  /** Form controls without an accessible name (a <label>, aria-label or aria-labelledby), and buttons without text. */
  async unlabelledControls(): Promise<string[]> {
    return this.page.evaluate(() => {
      const doc = (globalThis as any).document;
      const bad: string[] = [];
      for (const c of doc.querySelectorAll("input, select, textarea")) {
        if (c.type === "hidden") continue;
        if (!(c.labels?.length || c.getAttribute("aria-label") || c.getAttribute("aria-labelledby"))) bad.push(c.outerHTML.slice(0, 120));
      }
      for (const b of doc.querySelectorAll("button, a[href]")) {
        if (!(b.textContent.trim() || b.getAttribute("aria-label"))) bad.push(b.outerHTML.slice(0, 120));
      }
      return bad;
    });
  }

  /** The accessible names of what Tab reaches, in order, starting from the top of the page. */
  async tabOrder(max = 80): Promise<string[]> {
    // Tab from the very top of the page: focus a throwaway element placed before everything else
    await this.page.evaluate(() => {
      const doc = (globalThis as any).document;
      const start = doc.createElement("span");
      start.tabIndex = -1;
      start.id = "__tab-start";
      doc.body.prepend(start);
      start.focus();
    });
    const seen: string[] = [];
    for (let i = 0; i < max; i++) {
      await this.page.keyboard.press("Tab");
      const name = await this.page.evaluate(() => {
        const doc = (globalThis as any).document;
        const el = doc.activeElement;
        if (!el || el === doc.body) return "";
        return String(el.getAttribute("aria-label") || el.labels?.[0]?.innerText || el.innerText || el.id || el.tagName).trim();
      });
      if (!name) break;
      seen.push(name);
    }
    await this.page.evaluate(() => (globalThis as any).document.getElementById("__tab-start")?.remove());
    return seen;
  }

  /** True when the page needs no sideways scrolling at its viewport width. */
  async fitsWidth(): Promise<boolean> {
    return this.page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth <= (globalThis as any).innerWidth + 1);
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
  }
}
