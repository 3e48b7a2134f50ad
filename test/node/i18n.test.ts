import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type Catalog, generate, placeholders, readCatalogs, SOURCE_LOCALE, staleFiles } from "../../scripts/build/i18n.ts";
import { ERROR_CATALOG } from "../../src/errors";
import { type Locale, preferredLocale, SUPPORTED_LOCALES } from "../../src/i18n/locales";
import { mailMoment, t } from "../../src/i18n/messages";
import { deletionCodeMessage, deletionScheduledMessage } from "../../src/mail/account";
import {
  emailChangeCodeMessage,
  emailChangedMessage,
  emailChangeNoticeMessage,
  emailRevertedMessage,
  signInCodeMessage,
  verificationCodeMessage,
} from "../../src/mail/email-address";
import { identityLinkedMessage, identityUnlinkedMessage } from "../../src/mail/identities";
import type { MailMessage } from "../../src/mail/mailer";
import { mfaDisabledMessage, mfaEnabledMessage, recoveryCodesRegeneratedMessage, recoveryCodeUsedMessage } from "../../src/mail/mfa";
import { passkeyAddedMessage, passkeyRemovedMessage, passkeySignUpCodeMessage } from "../../src/mail/passkeys";
import { passwordChangedMessage, resetCodeMessage } from "../../src/mail/password";
import { registrationAttemptMessage } from "../../src/mail/registration-attempt";
import { type Envelope, MAIL_TAGS } from "../../src/mail/templates";
import { webhookDisabledMessage } from "../../src/mail/webhooks";

/**
 * The message catalogs (src/i18n/catalogs/) against each other and against the registries whose
 * messages they hold. Each check lists every problem as a sentence saying what to add or change
 * where; the test shows that list (expected: empty). docs/languages.md.
 *
 * - one catalog per SUPPORTED_LOCALES entry; every catalog has exactly the keys of en.json, and
 *   each message the same placeholders as in English
 * - every error code of ERROR_CATALOG has `error.<code>` (no placeholders: it is also the default
 *   message), and every `error.<code>[.<case>]` key names a code
 * - every mail of MAIL_TAGS has `mail.<tag>.subject`, and every `mail.<x>.` key is a tag's or `common`
 * - src/i18n/compiled/ is what the catalogs compile to (npm run build:i18n)
 */

const ROOT = path.resolve(__dirname, "../..");

interface Registries {
  locales: readonly string[];
  codes: readonly string[];
  mailTags: readonly string[];
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

function catalogProblems(catalogs: Record<string, Catalog>, r: Registries): string[] {
  const problems: string[] = [];
  const source = catalogs[SOURCE_LOCALE];
  if (!source) return [`src/i18n/catalogs/${SOURCE_LOCALE}.json is missing: it is the source catalog`];
  for (const locale of r.locales)
    if (!catalogs[locale]) problems.push(`src/i18n/catalogs/${locale}.json is missing: SUPPORTED_LOCALES lists ${locale}`);
  for (const locale of Object.keys(catalogs))
    if (!r.locales.includes(locale))
      problems.push(`src/i18n/catalogs/${locale}.json is not in SUPPORTED_LOCALES (src/i18n/locales.ts): add its line, or remove the file`);
  for (const [locale, catalog] of Object.entries(catalogs)) {
    if (locale === SOURCE_LOCALE) continue;
    const file = `src/i18n/catalogs/${locale}.json`;
    for (const key of Object.keys(source)) {
      if (!(key in catalog)) {
        problems.push(`${file} has no "${key}": add it (en: ${JSON.stringify(source[key])})`);
        continue;
      }
      const want = [...placeholders(source[key]).keys()].sort();
      const got = [...placeholders(catalog[key]).keys()].sort();
      if (!sameSet(want, got))
        problems.push(`${file} "${key}" uses {${got.join("}, {")}}; en.json uses {${want.join("}, {")}}: use the same placeholders`);
    }
    for (const key of Object.keys(catalog))
      if (!(key in source)) problems.push(`${file} has "${key}", which en.json does not: add it to en.json first, or remove it`);
  }
  for (const code of r.codes) {
    const key = `error.${code}`;
    if (!(key in source)) problems.push(`en.json has no "${key}": every code of ERROR_CATALOG needs its message`);
    else if (placeholders(source[key]).size) problems.push(`en.json "${key}" has placeholders: a code's default message takes none`);
  }
  for (const key of Object.keys(source)) {
    const error = /^error\.([a-z0-9_]+)(?:\.|$)/.exec(key);
    if (error && !r.codes.includes(error[1])) problems.push(`en.json "${key}": ${error[1]} is not a code of ERROR_CATALOG (src/errors.ts)`);
    const mail = /^mail\.([a-z0-9_]+)\./.exec(key);
    if (mail && mail[1] !== "common" && !r.mailTags.includes(mail[1]))
      problems.push(`en.json "${key}": ${mail[1]} is not in MAIL_TAGS (src/mail/templates.ts)`);
  }
  for (const tag of r.mailTags)
    if (!(`mail.${tag}.subject` in source))
      problems.push(`en.json has no "mail.${tag}.subject": every mail of MAIL_TAGS needs its messages`);
  return problems;
}

const REGISTRIES: Registries = { locales: SUPPORTED_LOCALES, codes: Object.keys(ERROR_CATALOG), mailTags: MAIL_TAGS };

describe("the catalogs (src/i18n/catalogs/) agree with each other and with the registries", () => {
  it("every locale has every key, with the same placeholders; every error code and mail has its messages", () => {
    expect(catalogProblems(readCatalogs(), REGISTRIES)).toEqual([]);
  });

  it("the check itself finds each kind of drift", () => {
    const en = {
      "error.a": "A.",
      "error.b.case": "B {n}.",
      "mail.m.subject": "M",
      "mail.x.body": "X",
      "k.p": "{n, plural, one {#} other {#}}",
    };
    const hi = { "error.a": "ए।", "error.b.case": "बी {m}।", "mail.m.subject": "एम", "k.p": "{n} बार", "k.extra": "और" };
    expect(catalogProblems({ en, hi, fr: {} }, { locales: ["en", "hi", "bn"], codes: ["a", "c"], mailTags: ["m", "n"] })).toEqual([
      "src/i18n/catalogs/bn.json is missing: SUPPORTED_LOCALES lists bn",
      "src/i18n/catalogs/fr.json is not in SUPPORTED_LOCALES (src/i18n/locales.ts): add its line, or remove the file",
      'src/i18n/catalogs/hi.json "error.b.case" uses {m}; en.json uses {n}: use the same placeholders',
      'src/i18n/catalogs/hi.json has no "mail.x.body": add it (en: "X")',
      'src/i18n/catalogs/hi.json has "k.extra", which en.json does not: add it to en.json first, or remove it',
      ...Object.keys(en).map((k) => `src/i18n/catalogs/fr.json has no "${k}": add it (en: ${JSON.stringify(en[k as keyof typeof en])})`),
      'en.json has no "error.c": every code of ERROR_CATALOG needs its message',
      'en.json "error.b.case": b is not a code of ERROR_CATALOG (src/errors.ts)',
      'en.json "mail.x.body": x is not in MAIL_TAGS (src/mail/templates.ts)',
      'en.json has no "mail.n.subject": every mail of MAIL_TAGS needs its messages',
    ]);
  });

  it("src/i18n/compiled/ is what the catalogs compile to (else: npm run build:i18n)", () => {
    expect(staleFiles()).toEqual([]);
  });

  it("the build refuses a plural category the locale does not have", () => {
    expect(() => generate({ en: { k: "{n, plural, one {#} other {#}}" }, hi: { k: "{n, plural, few {#} other {#}}" } })).toThrow(/few/);
  });
});

describe("plurals and times", () => {
  const cases: [Locale, Parameters<typeof t>[1], Record<string, number>, string][] = [
    ["en", "time.minutes", { count: 1 }, "1 minute"],
    ["en", "time.minutes", { count: 5 }, "5 minutes"],
    ["en", "time.hours", { count: 1 }, "1 hour"],
    ["en", "time.days", { count: 14 }, "14 days"],
    ["hi", "time.minutes", { count: 1 }, "1 मिनट"],
    ["hi", "time.hours", { count: 72 }, "72 घंटे"],
    [
      "en",
      "mail.mfa_recovery_code_used.left",
      { remaining: 0 },
      "You have no recovery codes left: create new ones in your security settings now.",
    ],
    ["en", "mail.mfa_recovery_code_used.left", { remaining: 1 }, "You have 1 unused recovery code left."],
    ["en", "mail.mfa_recovery_code_used.left", { remaining: 8 }, "You have 8 unused recovery codes left."],
    // Hindi's `one` covers 0 and 1; =0 is its own sentence, and the verb agrees: बचा है / बचे हैं.
    ["hi", "mail.mfa_recovery_code_used.left", { remaining: 0 }, "आपके पास कोई रिकवरी कोड नहीं बचा है: अभी अपनी सुरक्षा सेटिंग में नए कोड बनाएँ।"],
    ["hi", "mail.mfa_recovery_code_used.left", { remaining: 1 }, "आपके पास 1 रिकवरी कोड बचा है।"],
    ["hi", "mail.mfa_recovery_code_used.left", { remaining: 8 }, "आपके पास 8 रिकवरी कोड बचे हैं।"],
    ["en", "error.too_many_requests.export", { limit: 1 }, "Your data can be exported 1 time in 24 hours. Please try again later."],
    ["en", "error.too_many_requests.export", { limit: 3 }, "Your data can be exported 3 times in 24 hours. Please try again later."],
  ];
  it.each(cases)("%s %s %o", (locale, key, params, expected) => {
    expect((t as (l: Locale, k: string, p: object) => string)(locale, key, params)).toBe(expected);
  });

  it("a mail's moment in MAIL_TIME_ZONE, the clock written per locale (Asia/Kolkata is an alias ICU still accepts)", () => {
    const at = new Date(Date.UTC(2031, 4, 17, 14, 5));
    expect(mailMoment("en", at, "Asia/Kolkata")).toEqual({ time: "7:35 pm IST", date: "17 May 2031" });
    expect(mailMoment("hi", at, "Asia/Kolkata")).toEqual({ time: "शाम 7:35 बजे (IST)", date: "17 मई 2031" });
    expect(mailMoment("hi", new Date(Date.UTC(2031, 4, 17, 3, 0)), "Asia/Calcutta").time).toBe("सुबह 8:30 बजे (IST)");
    expect(mailMoment("en", at, "UTC")).toEqual({ time: "2:05 pm UTC", date: "17 May 2031" });
  });
});

describe("every mail, in every locale", () => {
  const CODE = "042917";
  const at = new Date(Date.UTC(2031, 4, 17, 14, 5));
  const samples: [string, (e: Envelope) => MailMessage, boolean][] = [
    ["reset", (e) => resetCodeMessage(e, { code: CODE, ttlSeconds: 600, expiresAt: at }), true],
    ["changed", (e) => passwordChangedMessage(e, { at, how: "reset" }), false],
    ["verification", (e) => verificationCodeMessage(e, { code: CODE, ttlSeconds: 900, expiresAt: at }), true],
    ["sign-in", (e) => signInCodeMessage(e, { code: CODE, ttlSeconds: 600, expiresAt: at }), true],
    ["change code", (e) => emailChangeCodeMessage(e, { code: CODE, ttlSeconds: 900, expiresAt: at }), true],
    [
      "notice",
      (e) => emailChangeNoticeMessage(e, { newEmail: "new@example.com", at, revert: { code: CODE, expiresAt: at, ttlSeconds: 72 * 3600 } }),
      true,
    ],
    [
      "notice (earlier)",
      (e) => emailChangeNoticeMessage(e, { newEmail: "new@example.com", at, revert: { earlier: true, expiresAt: at } }),
      false,
    ],
    ["changed email", (e) => emailChangedMessage(e, { newEmail: "new@example.com", at, revert: null }), false],
    ["reverted", (e) => emailRevertedMessage(e, { at }), false],
    ["deletion", (e) => deletionScheduledMessage(e, { code: CODE, graceSeconds: 14 * 86400, dueAt: at }), true],
    ["deletion code", (e) => deletionCodeMessage(e, { code: CODE, ttlSeconds: 600, expiresAt: at }), true],
    ["registration attempt", (e) => registrationAttemptMessage(e), false],
    ["mfa on", (e) => mfaEnabledMessage(e, { at }), false],
    ["mfa off", (e) => mfaDisabledMessage(e, { at }), false],
    ["recovery code used", (e) => recoveryCodeUsedMessage(e, { at, remaining: 3 }), false],
    ["recovery codes regenerated", (e) => recoveryCodesRegeneratedMessage(e, { at }), false],
    ["identity linked", (e) => identityLinkedMessage(e, { at, provider: "Google", identityEmail: "ada@gmail.com" }), false],
    ["identity unlinked", (e) => identityUnlinkedMessage(e, { at, provider: "Apple", identityEmail: null }), false],
    ["passkey added", (e) => passkeyAddedMessage(e, { at, name: "Laptop" }), false],
    ["passkey removed", (e) => passkeyRemovedMessage(e, { at, name: "Laptop" }), false],
    ["passkey sign-up code", (e) => passkeySignUpCodeMessage(e, { code: CODE, ttlSeconds: 300, expiresAt: at }), true],
    [
      "webhook disabled",
      (e) =>
        webhookDisabledMessage(e, {
          webhookId: "9c2e4b1a-7d3f-4e5a-8b6c-1d2e3f4a5b6c",
          origin: "https://hooks.example.com",
          failures: 5,
          at,
        }),
      false,
    ],
  ];

  it("the samples cover every tag of MAIL_TAGS", () => {
    const envelope: Envelope = { to: "a@example.com", locale: "en", appName: "Edge Auth", timeZone: "Asia/Kolkata" };
    expect(new Set(samples.map(([, render]) => render(envelope).tag))).toEqual(new Set(MAIL_TAGS));
  });

  for (const locale of SUPPORTED_LOCALES)
    it(`${locale}: subject without the code, lang="${locale}", every placeholder filled, the code in both bodies`, () => {
      const envelope: Envelope = { to: "a@example.com", locale, appName: "Acme & <Co>", timeZone: "Asia/Kolkata" };
      for (const [name, render, hasCode] of samples) {
        const mail = render(envelope);
        expect(mail.subject, name).not.toMatch(/\d{6}/);
        expect(mail.subject, name).toContain("Acme & <Co>");
        expect(mail.html, name).toContain(`<html lang="${locale}">`);
        expect(mail.html, name).not.toContain("<Co>");
        for (const body of [mail.subject, mail.text, mail.html]) expect(body, name).not.toMatch(/undefined|NaN|[{}]|\u0001/);
        if (hasCode) {
          expect(mail.text, name).toMatch(new RegExp(`:\\s*${CODE}$`, "m"));
          expect(mail.html, name).toContain(`>${CODE}</p>`);
        }
      }
    });
});

describe("Accept-Language negotiation (preferredLocale)", () => {
  const cases: [string | undefined, Locale | undefined][] = [
    ["hi-IN,hi;q=0.9", "hi"],
    ["fr, hi;q=0.5", "hi"],
    ["fr-FR, de;q=0.8", undefined],
    ["*", undefined],
    ["", undefined],
    [undefined, undefined],
    ["en_US, hi;q=0.2", "hi"],
    ["hi;q=0", undefined],
    ["hi;q=1.5, en;q=0.1", "en"],
    ["en;q=0.3, hi;q=0.3", "en"],
    ["hi;q=0.3, en;q=0.3", "hi"],
    ["zh-Hant-TW, HI", "hi"],
    [" en-GB ; q=0.8 , x-klingon", "en"],
    [`${"de, ".repeat(40)}hi`, undefined], // only the first 32 ranges are read
  ];
  it.each(cases)("%j -> %s", (header, locale) => {
    expect(preferredLocale(header)).toBe(locale);
  });
});

describe("every message a client sees comes from the catalogs", () => {
  /** A sentence written into a zod schema or an error instead of a catalog key. */
  const LITERAL =
    /\.(?:regex|min|max|length|email|uuid|url)\([^()]*?,\s*"[^"]+"\)|\b(?:error|message):\s*"[A-Za-z][^" ]* [^"]*"|\bconst [A-Z_]*MESSAGE[A-Z_]* =\s*"|(?:validationError|fieldError|uuid)\([^)]*"[A-Z][^"]*"/g;

  it("the scan catches the usual spellings and lets keys through", () => {
    const caught = [
      '.min(1, "Email is required.")',
      '.regex(/^[a-z]+$/, "Only letters.")',
      'z.string({ error: "Name is required." })',
      '.refine(f, { message: "Send one.", path: ["a"] })',
      'apiError("not_found", { message: "Nothing is here." })',
      'fieldError("validation_failed", "cursor", "This cursor is wrong.")',
      'uuid("Session id must be a UUID.")',
      'const VERIFIER_MESSAGE = "code_verifier is the verifier of the code_challenge"',
    ];
    for (const sample of caught) expect(sample.match(LITERAL), sample).not.toBeNull();
    for (const sample of [
      '.min(1, issue("validation.email_required"))',
      'apiError("not_found", { message: msg("error.not_found.route", p) })',
    ])
      expect(sample.match(LITERAL), sample).toBeNull();
  });

  it("no zod schema or error in src/ carries an English sentence of its own (use issue(key) / msg(key))", () => {
    const files = fs.readdirSync(path.join(ROOT, "src"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const literal = LITERAL;
    const problems: string[] = [];
    // Settings are read by operators at startup, not answered to clients.
    for (const file of files.filter((f) => f !== "config.ts")) {
      const text = fs.readFileSync(path.join(ROOT, "src", file), "utf8");
      for (const m of text.matchAll(literal)) {
        const line = text.slice(0, m.index).split("\n").length;
        // OpenAPI examples are English on purpose (the document stays English).
        if (/example/.test(text.split("\n")[line - 1])) continue;
        problems.push(`src/${file}:${line}: ${m[0]}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
