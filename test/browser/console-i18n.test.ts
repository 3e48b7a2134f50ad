import { execFileSync } from "node:child_process";
import fs from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Admin,
  axeViolations,
  CHROMIUM,
  createAdmin,
  cspProblems,
  openPage,
  registerUser,
  type Stack,
  screenshots,
  startStack,
  type Watched,
} from "./console-stack";

/**
 * The operators' console follows the browser's language (docs/console.md, Languages): a browser
 * set to Hindi (hi-IN: navigator.languages and Accept-Language) gets the sign-in page and the
 * signed-in pages in Hindi with <html lang="hi">, still without a serious or critical axe violation
 * or a CSP violation (the Hindi catalog is a chunk of its own); an English browser, and one in a
 * language the console does not have, get English.
 */

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (!haveChromium)
  console.warn(`[console i18n browser test] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

/** Without a Devanagari font Chromium draws the Hindi text as boxes (the screenshots would show nothing). */
function haveDevanagariFont(): boolean {
  try {
    return execFileSync("fc-list", [":lang=hi", "family"]).toString().trim() !== "";
  } catch {
    return false;
  }
}

const RUN = Math.random().toString(36).slice(2, 8);
/** English words of the console's pages: none of them is left on a Hindi page. */
const ENGLISH =
  /\b(Sign in|Sign out|Email|Password|Users|Search|Role|Status|Previous|Next|Page|Loading|Audit log|Profile|Sessions|Actions)\b/;
const DEVANAGARI = /[\u0900-\u097F]/;

let stack: Stack;
let admin: Admin;
const contexts: BrowserContext[] = [];

async function browserIn(locale: string): Promise<Watched> {
  const context = await stack.browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  return openPage(stack, context);
}

const visibleText = (p: Page) => p.evaluate("document.body.innerText") as Promise<string>;
const lang = (p: Page) => p.evaluate("document.documentElement.lang");

beforeAll(async () => {
  if (!haveChromium) return;
  stack = await startStack();
  admin = await createAdmin(stack, `ops-${RUN}@example.com`, "ओलिविया ऑपरेटर");
  await registerUser(stack, `asha-${RUN}@example.com`, "आशा वर्मा");
}, 300_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await stack?.stop();
});

describe.runIf(haveChromium)("the operators' console in the browser's language", () => {
  it("a Hindi browser (hi-IN) gets the sign-in page, the users list and an account in Hindi, with lang=hi", async () => {
    expect(haveDevanagariFont(), "no Devanagari font for Chromium: apt-get install fonts-lohit-deva (.ci/run does)").toBe(true);
    const w = await browserIn("hi-IN");
    const { page } = w;
    const acceptLanguage: Promise<string>[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/auth/")) acceptLanguage.push(r.allHeaders().then((h) => h["accept-language"] ?? ""));
    });
    await page.goto(`${stack.base}/console/`);
    await page.getByRole("heading", { level: 1, name: "ऑपरेटर कंसोल में साइन इन करें" }).waitFor();
    expect(await page.evaluate("navigator.languages[0]")).toBe("hi-IN");
    expect(await lang(page)).toBe("hi");
    expect(await page.title()).toBe("साइन इन · ऑपरेटर कंसोल");
    const signInText = await visibleText(page);
    expect(signInText).toMatch(DEVANAGARI);
    expect(signInText).not.toMatch(ENGLISH);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "sign-in-hi");

    await page.getByLabel("ईमेल").fill(admin.email);
    await page.getByLabel("पासवर्ड").fill(admin.password);
    await page.getByRole("button", { name: "साइन इन करें" }).click();
    await page.getByLabel("कोड").fill(admin.app!.next());
    await page.getByRole("button", { name: "सत्यापित करें" }).click();

    await page.getByRole("heading", { level: 1, name: "यूज़र" }).waitFor();
    const table = page.getByRole("table", { name: "अकाउंट" });
    await table.getByRole("link", { name: `asha-${RUN}@example.com` }).waitFor();
    expect(await lang(page)).toBe("hi");
    expect(await page.title()).toBe("यूज़र · ऑपरेटर कंसोल");
    expect(await table.locator("thead th").allTextContents()).toEqual(["ईमेल", "नाम", "भूमिका", "स्थिति", "सत्यापित", "टू-फ़ैक्टर", "कब बना"]);
    const asha = await table
      .getByRole("row")
      .filter({ hasText: `asha-${RUN}@example.com` })
      .locator("td")
      .allTextContents();
    // Role, status, yes/no and on/off in words; the time through Intl.DateTimeFormat("hi"), in UTC.
    expect(asha.slice(1, 6)).toEqual(["आशा वर्मा", "छात्र", "सक्रिय", "नहीं", "बंद"]);
    expect(asha[6]).toMatch(/^\d{1,2} [\u0900-\u097F]+ \d{4}, \d\d:\d\d:\d\d UTC$/);
    await page.getByRole("button", { name: "साइन आउट करें" }).waitFor();
    // The sections' links keep their layout and the current one its weight (CSS by class, not by label).
    const current = page.getByRole("navigation", { name: "कंसोल" }).getByRole("link", { name: "यूज़र" });
    expect(await current.getAttribute("aria-current")).toBe("page");
    expect(await current.evaluate((a) => (globalThis as any).getComputedStyle(a).fontWeight)).toBe("700");
    await page.getByRole("navigation", { name: "अकाउंट सूची के पेज" }).getByText("पेज 1").waitFor();
    const usersText = await visibleText(page);
    expect(usersText).not.toMatch(ENGLISH);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "users-hi");

    // The admin's own account: headings, the facts and a plural (the recovery codes left).
    await table.getByRole("link", { name: admin.email }).click();
    await page.getByRole("heading", { level: 1, name: admin.email }).waitFor();
    await page.getByRole("heading", { level: 2, name: "दूसरे फ़ैक्टर" }).waitFor();
    await page.getByText(`${admin.recoveryCodes.length} रिकवरी कोड बचे हैं।`, { exact: true }).waitFor();
    await page.getByText("यह आपका अपना अकाउंट है", { exact: false }).waitFor();
    await page.getByRole("table", { name: "अकाउंट के सबसे नए इवेंट" }).getByRole("cell", { name: "सफल", exact: true }).first().waitFor();
    expect(await page.title()).toBe(`${admin.email} · ऑपरेटर कंसोल`);
    expect(await visibleText(page)).not.toMatch(ENGLISH);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, "account-hi");

    // The browser says the language to the API too (its error messages follow Accept-Language).
    expect(acceptLanguage.length).toBeGreaterThan(0);
    for (const header of await Promise.all(acceptLanguage)) expect(header).toMatch(/^hi-IN\b/);
    expect(cspProblems(w)).toEqual([]);
    expect(w.offOrigin).toEqual([]);
  });

  it("an English browser (en-US) still gets English, with lang=en and times as the logs write them", async () => {
    const w = await browserIn("en-US");
    const { page } = w;
    await page.goto(`${stack.base}/console/`);
    await page.getByRole("heading", { level: 1, name: "Sign in to the operators' console" }).waitFor();
    expect(await lang(page)).toBe("en");
    expect(await page.title()).toBe("Sign in · Operators' console");
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("Code").fill(admin.recoveryCodes[0]);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
    const table = page.getByRole("table", { name: "Accounts" });
    await table.getByRole("link", { name: `asha-${RUN}@example.com` }).waitFor();
    expect(await page.title()).toBe("Users · Operators' console");
    const asha = await table
      .getByRole("row")
      .filter({ hasText: `asha-${RUN}@example.com` })
      .locator("td")
      .allTextContents();
    expect(asha.slice(2, 6)).toEqual(["student", "active", "no", "off"]);
    expect(asha[6]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // The accounts' names are Devanagari here; the console's own words are not.
    expect(await visibleText(page)).not.toMatch(/यूज़र|साइन|भूमिका|स्थिति|पेज|अकाउंट/);
    expect(cspProblems(w)).toEqual([]);
  });

  it("a browser in a language the console does not have (fr-FR) gets English", async () => {
    const { page } = await browserIn("fr-FR");
    await page.goto(`${stack.base}/console/`);
    await page.getByRole("heading", { level: 1, name: "Sign in to the operators' console" }).waitFor();
    expect(await page.evaluate("navigator.languages[0]")).toBe("fr-FR");
    expect(await lang(page)).toBe("en");
  });
});
