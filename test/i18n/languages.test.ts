import { describe, expect, it } from "vitest";
import { PASSWORD, registerUser, uniqueEmail } from "../support/accounts";
import { adminAccount, adminCall } from "../support/admin";
import { fakeClock } from "../support/clock";
import { userRow } from "../support/db";
import { codeIn, type Mail, mailsTo } from "../support/mail";
import { enableMfa, mfaToken, verify } from "../support/mfa";
import { addPasskey, authenticator, removePasskey, signUp } from "../support/passkeys";
import { type CallOptions, call, json } from "../support/worker";

// Languages (docs/languages.md), through the real Worker, Postgres and the local mail capture:
// Accept-Language picks the language of every message of an answer; an account's `locale` picks
// the language of its mails.

const HI = { "accept-language": "hi-IN,hi;q=0.9" };
/** 13:55 UTC on 17 May 2031: a 10-minute code expires at 14:05 UTC, 7:35 pm in Asia/Kolkata (MAIL_TIME_ZONE's default). */
const START = Date.UTC(2031, 4, 17, 13, 55, 0);

const wrongLogin = (headers: Record<string, string> = {}) =>
  call("/auth/login", { body: { email: uniqueEmail("nobody"), password: "Not-the-password-1" }, headers });

function profileForm(fields: Record<string, string>) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

/** The newest mail of a kind to an address, which must be there. */
async function newest(email: string, tag: string): Promise<Mail> {
  const [mail] = await mailsTo(email, tag);
  expect(mail, `a ${tag} mail to ${email}`).toBeDefined();
  return mail;
}

/** A mail written in Hindi: subject, text and HTML in Devanagari, the HTML declared `lang="hi"`, no English sentence left. */
function expectHindi(mail: Mail) {
  const devanagari = /[\u0900-\u097F]/;
  expect(mail.subject).toMatch(devanagari);
  expect(mail.text).toMatch(devanagari);
  expect(mail.html).toContain('<html lang="hi">');
  for (const english of [/\bYour\b/, /\bexpires\b/, /\bIf you\b/, /\bpassword\b/i, /\baccount\b/i]) {
    expect(mail.subject + mail.text, String(english)).not.toMatch(english);
  }
}

describe("error and success messages follow Accept-Language", () => {
  it("hi-IN,hi;q=0.9 on an anonymous request: the message in Hindi, Content-Language: hi, the same code", async () => {
    const res = await wrongLogin(HI);
    expect(res.status).toBe(401);
    expect(res.headers.get("content-language")).toBe("hi");
    expect(res.headers.get("vary")).toMatch(/Accept-Language/);
    expect(await json(res)).toEqual({ status: "error", code: "invalid_credentials", message: "ईमेल या पासवर्ड गलत है।" });
  });

  it("the whole list with its q-values: the best supported language, else English", async () => {
    const cases: [string | undefined, "en" | "hi"][] = [
      ["fr, hi;q=0.5", "hi"],
      ["fr-FR, de;q=0.8", "en"],
      [undefined, "en"],
      ["*", "en"],
      ["en_US, hi;q=0.1", "hi"], // a malformed tag is skipped
      ["hi;q=0, en;q=0.1", "en"], // q=0: not acceptable
      ["hi;q=oops, en;q=0.2", "en"], // a malformed q-value: the range is skipped
      ["en;q=0.4, HI-in;q=0.6", "hi"],
    ];
    for (const [header, locale] of cases) {
      const res = await wrongLogin(header === undefined ? {} : { "accept-language": header });
      const body = await json(res);
      expect(res.headers.get("content-language"), String(header)).toBe(locale);
      expect(body.code).toBe("invalid_credentials");
      expect(body.message, String(header)).toBe(locale === "hi" ? "ईमेल या पासवर्ड गलत है।" : "Invalid email or password.");
    }
  });

  it("validation messages: the schema's own and the generic ones, per field, in Hindi", async () => {
    const bad = await call("/auth/register", { body: { full_name: "", email: "not-an-email", password: PASSWORD }, headers: HI });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-language")).toBe("hi");
    const body = await json(bad);
    expect(body.code).toBe("validation_failed");
    expect(body.message).toBe("कुछ फ़ील्ड सही नहीं भरे गए हैं।");
    expect(body.issues).toEqual(
      expect.arrayContaining([
        { path: "full_name", message: "पूरा नाम डालना ज़रूरी है।" },
        { path: "email", message: "सही ईमेल पता डालें।" },
      ]),
    );
    // A limit without a message of its own: the generic one, naming the field and the bound.
    const long = { id_token: "a.b.c", nonce: "n".repeat(600) };
    const hindi = await call("/auth/oauth/google/id-token", { body: long, headers: HI });
    expect(await json(hindi)).toMatchObject({
      code: "validation_failed",
      message: "nonce में ज़्यादा से ज़्यादा 512 अक्षर हो सकते हैं।",
      issues: [{ path: "nonce" }],
    });
    const english = await call("/auth/oauth/google/id-token", { body: long });
    expect((await json(english)).message).toBe("nonce must be at most 512 characters.");
  });

  it("404, 405 and a success answer too; /openapi.json and /docs stay English", async () => {
    const missing = await call("/auth/nowhere", { headers: HI });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-language")).toBe("hi");
    expect(await json(missing)).toMatchObject({ code: "not_found", message: "GET /auth/nowhere के लिए कोई रूट नहीं है।" });

    const wrongMethod = await call("/auth/login", { headers: HI });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("content-language")).toBe("hi");
    expect(await json(wrongMethod)).toMatchObject({
      code: "method_not_allowed",
      message: "GET मेथड यहाँ इस्तेमाल नहीं किया जा सकता। इनमें से कोई इस्तेमाल करें: POST।",
    });

    const forgot = await call("/auth/forgot-password", { body: { email: uniqueEmail("nobody") }, headers: HI });
    expect(forgot.status).toBe(200);
    expect(forgot.headers.get("content-language")).toBe("hi");
    expect((await json(forgot)).message).toBe("अगर इस ईमेल से कोई अकाउंट है, तो हमने पासवर्ड रीसेट करने के लिए उस पर एक OTP भेज दिया है।");

    for (const path of ["/openapi.json", "/docs"]) {
      const res = await call(path, { headers: HI });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-language"), path).toBe("en");
    }
  });

  it("a configuration error is answered in the request's language too", async () => {
    const res = await call("/auth/login", {
      body: { email: "a@example.com", password: "x" },
      headers: HI,
      env: { MAIL_TIME_ZONE: "Mars/Olympus_Mons" },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-language")).toBe("hi");
    expect(await json(res)).toEqual({
      status: "error",
      code: "internal_error",
      message: "सर्विस की सेटिंग में गड़बड़ी है। कृपया बाद में फिर से कोशिश करें।",
    });
  });
});

describe("the account's locale", () => {
  it("set at registration: the field, else Accept-Language, else none; shown on the user object, /me and the export", async () => {
    const chosen = await registerUser({ locale: "hi" });
    expect(chosen.user.locale).toBe("hi");
    expect((await userRow(chosen.user.id)).locale).toBe("hi");

    const fromHeader = await registerUser({}, { headers: { "accept-language": "fr, hi-IN;q=0.8" } });
    expect(fromHeader.user.locale).toBe("hi");
    const unsupported = await registerUser({}, { headers: { "accept-language": "fr-FR" } });
    expect(unsupported.user.locale).toBeNull();
    const none = await registerUser();
    expect(none.user.locale).toBeNull();

    const me = await json(await call("/auth/me", { token: chosen.access_token }));
    expect(me.user.locale).toBe("hi");
    const exported = await json(await call("/auth/account/export", { token: chosen.access_token }));
    expect(exported.profile.locale).toBe("hi");

    const refused = await call("/auth/register", {
      body: { full_name: "Fay", email: uniqueEmail(), password: PASSWORD, locale: "fr" },
    });
    expect(refused.status).toBe(400);
    expect(await json(refused)).toMatchObject({
      code: "validation_failed",
      issues: [{ path: "locale", message: "locale must be one of: en, hi." }],
    });
  });

  it("changed by POST /auth/update-profile (multipart `locale`), validated against the supported locales", async () => {
    const u = await registerUser();
    const changed = await call("/auth/update-profile", { body: profileForm({ locale: "hi" }), token: u.access_token });
    expect(changed.status, await changed.clone().text()).toBe(200);
    expect((await json(changed)).user.locale).toBe("hi");
    expect((await userRow(u.user.id)).locale).toBe("hi");

    const refused = await call("/auth/update-profile", { body: profileForm({ locale: "xx" }), token: u.access_token, headers: HI });
    expect(refused.status).toBe(400);
    expect(await json(refused)).toMatchObject({
      code: "validation_failed",
      issues: [{ path: "locale", message: "locale इनमें से कोई एक होना चाहिए: en, hi।" }],
    });
    expect((await userRow(u.user.id)).locale).toBe("hi");
  });
});

describe("mails in the account's language", () => {
  it("a hi account's verification, reset, password-changed and sign-in-code mails arrive in Hindi, times in MAIL_TIME_ZONE", async () => {
    const clock = fakeClock(START - 5 * 60_000);
    const opts: CallOptions = { now: clock.now };
    // Registered at 13:50 UTC: the verification code (EMAIL_CODE_TTL 15 min) expires at 14:05 UTC.
    const u = await registerUser({ locale: "hi" }, opts);

    const verification = await newest(u.email, "email_verification");
    expectHindi(verification);
    expect(verification.subject).toBe("आपका Edge Auth वेरिफ़िकेशन OTP");
    expect(verification.text).toContain("यह OTP 15 मिनट तक, यानी शाम 7:35 बजे (IST) तक, मान्य है और सिर्फ़ एक बार काम करेगा।");
    expect(verification.html).toContain("यह OTP <strong>15 मिनट</strong> तक, यानी शाम 7:35 बजे (IST) तक");

    clock.set(START);
    // The request asks in English: the account's language wins for its mails.
    expect((await call("/auth/forgot-password", { body: { email: u.email }, headers: { "accept-language": "en" }, ...opts })).status).toBe(
      200,
    );
    const reset = await newest(u.email, "password_reset");
    expectHindi(reset);
    const code = codeIn(reset);
    expect(reset.subject).toBe("आपका Edge Auth पासवर्ड रीसेट OTP");
    expect(reset.subject).not.toContain(code);
    expect(reset.text).toContain(`पासवर्ड रीसेट करने के लिए आपका OTP: ${code}`);
    expect(reset.text).toContain("यह OTP 10 मिनट तक, यानी शाम 7:35 बजे (IST) तक, मान्य है");
    expect(reset.html).toContain(`>${code}</p>`);

    const done = await call("/auth/reset-password", {
      body: { email: u.email, otp: code, new_password: "A-new-long-passphrase-7" },
      ...opts,
    });
    expect(done.status, await done.clone().text()).toBe(200);
    const changed = await newest(u.email, "password_changed");
    expectHindi(changed);
    expect(changed.subject).toBe("आपका Edge Auth पासवर्ड बदल दिया गया है");
    expect(changed.text).toContain("17 मई 2031 को शाम 7:25 बजे (IST) आपके Edge Auth अकाउंट का पासवर्ड इस पते पर भेजे गए OTP से रीसेट किया गया।");

    // Another zone: 13:55 UTC is 14:55 in London (summer time), written the Hindi way.
    const london = { ...opts, env: { MAIL_TIME_ZONE: "Europe/London" } };
    expect((await call("/auth/sign-in/code", { body: { email: u.email }, ...london })).status).toBe(202);
    const signIn = await newest(u.email, "sign_in_code");
    expectHindi(signIn);
    expect(signIn.subject).toBe("आपका Edge Auth साइन-इन OTP");
    expect(signIn.subject).not.toContain(codeIn(signIn));
    expect(signIn.text).toContain("यह OTP 10 मिनट तक, यानी दोपहर 3:05 बजे (GMT+1) तक, मान्य है");
  });

  it("changing locale through update-profile switches the next mail", async () => {
    const u = await registerUser();
    expect((await call("/auth/sign-in/code", { body: { email: u.email } })).status).toBe(202);
    const english = await newest(u.email, "sign_in_code");
    expect(english.subject).toBe("Your Edge Auth sign-in code");
    expect(english.html).toContain('<html lang="en">');

    const res = await call("/auth/update-profile", { body: profileForm({ locale: "hi" }), token: u.access_token });
    expect(res.status).toBe(200);
    expect((await call("/auth/forgot-password", { body: { email: u.email } })).status).toBe(200);
    expectHindi(await newest(u.email, "password_reset"));
  });

  it("an account that chose no language gets its mails in the language of the request that causes them", async () => {
    const u = await registerUser();
    expect(u.user.locale).toBeNull();
    expect((await call("/auth/forgot-password", { body: { email: u.email }, headers: HI })).status).toBe(200);
    expectHindi(await newest(u.email, "password_reset"));
    const other = await registerUser();
    expect((await call("/auth/forgot-password", { body: { email: other.email }, headers: { "accept-language": "fr" } })).status).toBe(200);
    const mail = await newest(other.email, "password_reset");
    expect(mail.subject).toBe("Your Edge Auth password reset code");
    expect(mail.html).toContain('<html lang="en">');
  });

  it("a reset an administrator sends: the account's language, else English (never the administrator's)", async () => {
    const clock = fakeClock();
    const admin = await adminAccount(clock);
    const hindi = await registerUser({ locale: "hi" }, { now: clock.now });
    const unchosen = await registerUser({}, { now: clock.now });
    for (const u of [hindi, unchosen]) {
      const res = await adminCall(`/users/${u.user.id}/send-password-reset`, admin.token, clock, { method: "POST", headers: HI });
      expect(res.status).toBe(202);
      expect((await json(res)).message).toBe("अकाउंट के ईमेल पते पर पासवर्ड रीसेट का OTP भेजा जा रहा है।");
    }
    expectHindi(await newest(hindi.email, "password_reset"));
    expect((await newest(unchosen.email, "password_reset")).subject).toBe("Your Edge Auth password reset code");
  });

  it("plural forms: 1 minute and 10 minutes in English; 9 recovery codes left in Hindi", async () => {
    const one = await registerUser();
    const res = await call("/auth/forgot-password", { body: { email: one.email }, env: { OTP_TTL: "60" } });
    expect(res.status).toBe(200);
    expect((await newest(one.email, "password_reset")).text).toContain("It expires in 1 minute (at ");
    const ten = await registerUser();
    expect((await call("/auth/forgot-password", { body: { email: ten.email } })).status).toBe(200);
    expect((await newest(ten.email, "password_reset")).text).toContain("It expires in 10 minutes (at ");

    const clock = fakeClock();
    const hi = await registerUser({ locale: "hi" }, { now: clock.now });
    const { recoveryCodes } = await enableMfa(hi.access_token, clock);
    expectHindi(await newest(hi.email, "mfa_enabled"));
    const ok = await verify({ mfa_token: await mfaToken(hi.email, clock), recovery_code: recoveryCodes[0] }, clock);
    expect(ok.status).toBe(200);
    const used = await newest(hi.email, "mfa_recovery_code_used");
    expectHindi(used);
    expect(used.text).toContain("आपके पास 9 रिकवरी कोड बचे हैं।");
  });

  it("the registration-attempt notice (REGISTER_ENUMERATION_SAFE) follows the owner's language, not the stranger's", async () => {
    const env = { REGISTER_ENUMERATION_SAFE: "true" };
    const email = uniqueEmail("owner");
    const first = await call("/auth/register", { body: { full_name: "Owner", email, password: PASSWORD, locale: "hi" }, env });
    expect(first.status).toBe(202);
    const again = await call("/auth/register", {
      body: { full_name: "Stranger", email, password: PASSWORD },
      headers: { "accept-language": "en" },
      env,
    });
    expect(again.status).toBe(202);
    expect((await json(again)).message).toMatch(/^Registration received/);
    expectHindi(await newest(email, "registration_attempt"));
  });

  it("passkeys: the sign-up code in the request's language (the account's from then on); the added and removed notices in the account's", async () => {
    const clock = fakeClock(START);
    const opts: CallOptions = { now: clock.now };
    const email = uniqueEmail("pk-hi");
    const res = await signUp(authenticator(), email, {}, { ...opts, headers: HI });
    expect(res.status, await res.clone().text()).toBe(201);
    const { user, access_token } = await json(res);
    expect(user.locale).toBe("hi");
    expect((await userRow(user.id)).locale).toBe("hi");
    const code = await newest(email, "passkey_sign_up_code");
    expectHindi(code);
    expect(code.subject).toBe("आपका Edge Auth साइन-अप OTP");
    expect(code.subject).not.toContain(codeIn(code));
    expect(code.text).toContain(`साइन-अप के लिए आपका OTP: ${codeIn(code)}`);
    // CHALLENGE_TTL (5 minutes) from 13:55 UTC: 14:00 UTC, 7:30 pm in Asia/Kolkata.
    expect(code.text).toContain("यह OTP 5 मिनट तक, यानी शाम 7:30 बजे (IST) तक, मान्य है");

    // The app asks in English from now on: the account's language wins for its mails.
    const en = { ...opts, headers: { "accept-language": "en" } };
    const { passkey } = await addPasskey(access_token, authenticator(), { password: null, name: "Laptop", opts: en });
    const added = await newest(email, "passkey_added");
    expectHindi(added);
    expect(added.text).toContain("आपके Edge Auth अकाउंट में एक पासकी (“Laptop”) जोड़ी गई।");
    const removed = await removePasskey(access_token, passkey.id, {}, en);
    expect(removed.status, await removed.clone().text()).toBe(200);
    expect((await json(removed)).message).toBe("Passkey removed.");
    const notice = await newest(email, "passkey_removed");
    expectHindi(notice);
    expect(notice.text).toContain("पासकी “Laptop” हटा दी गई।");
  });

  it("a passkey sign-up's `locale` beats Accept-Language for the account and its code mail", async () => {
    const email = uniqueEmail("pk-en");
    const res = await call("/auth/passkeys/signup/options", { body: { email, full_name: "Ada", locale: "en" }, headers: HI });
    expect(res.status, await res.clone().text()).toBe(200);
    const mail = await newest(email, "passkey_sign_up_code");
    expect(mail.html).toContain('<html lang="en">');
    expect(mail.subject).toBe("Your Edge Auth sign-up code");
  });
});
