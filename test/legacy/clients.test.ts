import { describe, expect, inject, it } from "vitest";
import { createClient } from "../../src/client";
import { DEPRECATED_AT, LEGACY_ROOT_PATHS } from "../../src/routes/legacy-paths";
import { PASSWORD, registerUser, uniqueEmail } from "../support/accounts";
import { JPEG } from "../support/images";
import { inOneWindow } from "../support/limits";
import { latestCode } from "../support/mail";
import { type CallOptions, call, freshIp, json } from "../support/worker";

/**
 * Issue 13: every client of the old service works unchanged. Each client's requests are replayed
 * as it sends them (body bytes and headers), at the path the Worker receives them on: the gateway
 * proxies /api/* with the prefix stripped, so the web client's /api/auth/login arrives as
 * /auth/login and the mobile app's /api/update-profile as /update-profile (a root alias).
 */

const NEW_PASSWORD = "A-Brand-New-Passphrase-7";
const s3Base = () => `${inject("s3Endpoint")}/${inject("s3Bucket")}/avatars/`;

type Part = { name: string; value: string } | { name: string; filename: string; type: string; bytes: Uint8Array };

/**
 * A multipart/form-data body as a client's HTTP stack writes it. `partLengths`: OkHttp (React
 * Native on Android) gives every part its own Content-Length; browsers do not.
 */
function multipart(boundary: string, parts: Part[], { partLengths = false } = {}): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    const body = "value" in p ? enc.encode(p.value) : p.bytes;
    const disposition = "value" in p ? `form-data; name="${p.name}"` : `form-data; name="${p.name}"; filename="${p.filename}"`;
    let head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n`;
    if (!("value" in p)) head += `Content-Type: ${p.type}\r\n`;
    if (partLengths) head += `Content-Length: ${body.length}\r\n`;
    chunks.push(enc.encode(`${head}\r\n`), body, enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The web client (axios in a browser): JSON bodies, and the browser's own multipart for the profile. */
const web = {
  headers: { accept: "application/json, text/plain, */*", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36" },
  json(path: string, body: unknown, opts: CallOptions = {}) {
    return call(path, {
      ...opts,
      body: JSON.stringify(body),
      headers: { ...this.headers, "content-type": "application/json", ...opts.headers },
    });
  },
  profile(path: string, token: string, fields: { email: string; full_name: string }) {
    const boundary = "----WebKitFormBoundaryq3Xz8Kp2LmN7vR4T";
    const body = multipart(boundary, [
      { name: "email", value: fields.email },
      { name: "full_name", value: fields.full_name },
      { name: "avatar", filename: "me.jpg", type: "image/jpeg", bytes: JPEG },
    ]);
    return call(path, {
      method: "POST",
      body,
      token,
      headers: { ...this.headers, "content-type": `multipart/form-data; boundary=${boundary}` },
    });
  },
};

/** The React Native app (fetch over OkHttp): JSON with an explicit type, the form with a UUID boundary. */
const app = {
  headers: { accept: "application/json", "user-agent": "okhttp/4.9.2" },
  json(path: string, body: unknown, opts: CallOptions = {}) {
    return call(path, {
      ...opts,
      body: JSON.stringify(body),
      headers: { ...this.headers, "content-type": "application/json", ...opts.headers },
    });
  },
  profile(path: string, token: string, fields: { email: string; full_name: string }, opts: CallOptions = {}) {
    const boundary = crypto.randomUUID();
    const body = multipart(
      boundary,
      [
        { name: "email", value: fields.email },
        { name: "full_name", value: fields.full_name },
        { name: "avatar", filename: "IMG_20261201_101112.jpg", type: "image/jpeg", bytes: JPEG },
      ],
      { partLengths: true },
    );
    return call(path, {
      ...opts,
      method: "POST",
      body,
      token,
      headers: { ...this.headers, "content-type": `multipart/form-data; boundary=${boundary}`, ...opts.headers },
    });
  },
};

/** What a client reads after register or login. */
async function expectSignedIn(
  res: Response,
  status: number,
  who: { email: string; full_name: string; avatar?: string; email_verified?: boolean },
) {
  expect(res.status).toBe(status);
  const body = await json(res);
  expect(body.status).toBe("success");
  expect(typeof body.message).toBe("string");
  expect(body.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  expect(body.user).toEqual({
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    full_name: who.full_name,
    email: who.email,
    role: "student",
    avatar: who.avatar ?? null,
    email_verified: who.email_verified ?? false,
    // Added by account management (INSTRUCTOR_APPROVAL) and languages (docs/languages.md); old clients ignore unknown fields.
    requested_role: null,
    locale: null,
  });
  return body;
}

async function expectProfile(res: Response, who: { id: string; email: string; full_name: string }) {
  expect(res.status).toBe(200);
  const body = await json(res);
  expect(body.status).toBe("success");
  expect(body.message).toBe("Profile updated.");
  expect(body.user).toEqual({
    id: who.id,
    full_name: who.full_name,
    email: who.email,
    role: "student",
    avatar: expect.any(String),
    email_verified: false,
    requested_role: null,
    locale: null,
  });
  expect(body.user.avatar.startsWith(`${s3Base()}${who.id}/`)).toBe(true);
  // The stored avatar is the re-encoded main size (docs/profile-and-avatars.md).
  expect(body.user.avatar).toMatch(/-512\.webp$/);
  return body;
}

const FORGOT_MESSAGE = "If an account exists for this email, we have sent it a code to reset the password.";

describe("the web client: JSON to /api/auth/* (arriving as /auth/*)", () => {
  it("registers, logs in, updates the profile, resets the password: the bodies it sends, the fields it reads", async () => {
    const email = uniqueEmail("web");
    const who = { email, full_name: "Web Client" };
    const reg = await web.json("/auth/register", { full_name: who.full_name, email, password: PASSWORD, role: "student" });
    await expectSignedIn(reg, 201, who);
    const login = await expectSignedIn(await web.json("/auth/login", { email, password: PASSWORD }), 200, who);

    const profile = await web.profile("/auth/update-profile", login.access_token, { email, full_name: "Web Client Renamed" });
    const { user } = await expectProfile(profile, { id: login.user.id, email, full_name: "Web Client Renamed" });

    const forgot = await web.json("/auth/forgot-password", { email });
    expect(forgot.status).toBe(200);
    expect(await json(forgot)).toEqual({ status: "success", message: FORGOT_MESSAGE, user: { email } });
    const otp = await latestCode(email, /reset/);
    const reset = await web.json("/auth/reset-password", { email, otp, new_password: NEW_PASSWORD });
    expect(reset.status).toBe(200);
    expect(await json(reset)).toEqual({ status: "success", message: "Your password has been reset. Log in with your new password." });
    // A reset proves the address: the account now counts as verified.
    await expectSignedIn(await web.json("/auth/login", { email, password: NEW_PASSWORD }), 200, { ...user, email_verified: true });
  });
});

describe("the mobile app: root paths (/api/login arrives as /login)", () => {
  it("registers and logs in at /register and /login", async () => {
    const email = uniqueEmail("app");
    const who = { email, full_name: "Mobile App" };
    await expectSignedIn(await app.json("/register", { full_name: who.full_name, email, password: PASSWORD, role: "student" }), 201, who);
    await expectSignedIn(await app.json("/login", { email, password: PASSWORD }), 200, who);
  });

  it("posts its multipart form (email, full_name, avatar) to /update-profile with the token from /login", async () => {
    const u = await registerUser({ full_name: "Before App" });
    const login = await (await app.json("/login", { email: u.email, password: PASSWORD })).json<{ access_token: string }>();
    const res = await app.profile("/update-profile", login.access_token, { email: u.email, full_name: "After App" });
    expect(res.headers.get("deprecation")).toBe(DEPRECATED_AT);
    const { user } = await expectProfile(res, { id: u.user.id, email: u.email, full_name: "After App" });
    const stored = await fetch(user.avatar);
    // Re-encoded by the service (docs/profile-and-avatars.md): the app only reads the URL.
    expect(stored.headers.get("content-type")).toBe("image/webp");
    const bytes = new Uint8Array(await stored.arrayBuffer());
    expect(String.fromCharCode(...bytes.subarray(0, 4), ...bytes.subarray(8, 12))).toBe("RIFFWEBP");
    const me = await json(await call("/auth/me", { token: login.access_token }));
    expect(me.user).toEqual(user);
  });

  it("reads user.email after /forgot-password, for a known and an unknown email alike (normalised, never the id)", async () => {
    const u = await registerUser();
    const nobody = uniqueEmail("nobody");
    const typed = (e: string) => `  ${e.replace(/^./, (c) => c.toUpperCase()).replace("@example.com", "@Example.COM")} `;
    const known = await app.json("/forgot-password", { email: typed(u.email) });
    const unknown = await app.json("/forgot-password", { email: typed(nobody) });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    const [k, n] = [await json(known), await json(unknown)];
    expect(k).toEqual({ status: "success", message: FORGOT_MESSAGE, user: { email: u.email } });
    expect(n).toEqual({ status: "success", message: FORGOT_MESSAGE, user: { email: nobody } });
    expect(JSON.stringify(k)).not.toContain(u.user.id);
    // The canonical path answers the same shape.
    const canonical = await web.json("/auth/forgot-password", { email: uniqueEmail("nobody") });
    expect(Object.keys((await json(canonical)).user)).toEqual(["email"]);
  });

  it("resets the password at the root paths with the mailed code, then logs in with the new one", async () => {
    const u = await registerUser({ full_name: "Reset App" });
    const forgot = await json(await app.json("/forgot-password", { email: u.email }));
    const email = forgot.user.email; // what the app carries to its code screen
    const otp = await latestCode(email, /reset/);
    const reset = await app.json("/reset-password", { email, otp, new_password: NEW_PASSWORD });
    expect(reset.status).toBe(200);
    expect((await json(reset)).status).toBe("success");
    expect((await app.json("/login", { email, password: PASSWORD })).status).toBe(401);
    await expectSignedIn(await app.json("/login", { email, password: NEW_PASSWORD }), 200, {
      email,
      full_name: "Reset App",
      email_verified: true,
    });
  });
});

/** Per-request values (tokens, ids, the account's email, the avatar key) replaced, the rest kept. */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        ["access_token", "refresh_token", "id", "email"].includes(k) && typeof v === "string"
          ? `<${k}>`
          : (k === "avatar" && v) || k === "avatar_sizes"
            ? `<${k}>`
            : stable(v),
      ]),
    );
  return value;
}

const HEADERS_COMPARED = ["content-type", "allow", "retry-after", "cache-control", "x-content-type-options"];

/** Sends one request to the alias and to its canonical path (fresh inputs for each) and compares. */
async function both(alias: string, send: (path: string) => Promise<Response>) {
  const [a, c] = [await send(alias), await send(`/auth${alias}`)];
  const [aBody, cBody] = [await a.text(), await c.text()];
  expect(a.status, `${alias}: ${aBody}`).toBe(c.status);
  expect(stable(JSON.parse(aBody))).toEqual(stable(JSON.parse(cBody)));
  for (const h of HEADERS_COMPARED) expect(a.headers.get(h), h).toBe(c.headers.get(h));
  expect(a.headers.get("deprecation")).toBe(DEPRECATED_AT);
  expect(a.headers.get("link")).toBe(`</auth${alias}>; rel="successor-version"`);
  expect(c.headers.get("deprecation")).toBeNull();
  expect(c.headers.get("link")).toBeNull();
  return { status: a.status, body: JSON.parse(aBody) };
}

describe("the root aliases answer exactly like the canonical paths, and say they are deprecated", () => {
  const registerBody = () => ({ full_name: "Alias Twin", email: uniqueEmail("twin"), password: PASSWORD, role: "student" });

  it("register: created, taken, invalid", async () => {
    expect((await both("/register", (p) => app.json(p, registerBody()))).status).toBe(201);
    const taken = await registerUser();
    expect((await both("/register", (p) => app.json(p, { ...registerBody(), email: taken.email }))).body.code).toBe("email_taken");
    expect((await both("/register", (p) => app.json(p, { ...registerBody(), password: "short" }))).body.code).toBe("validation_failed");
  });

  it("login: success, wrong password, malformed JSON, no content type, too large, wrong method", async () => {
    const u = await registerUser();
    expect((await both("/login", (p) => app.json(p, { email: u.email, password: PASSWORD }))).status).toBe(200);
    expect((await both("/login", (p) => app.json(p, { email: u.email, password: "not-the-password" }))).body.code).toBe(
      "invalid_credentials",
    );
    expect((await both("/login", (p) => call(p, { body: '{"email":', headers: { "content-type": "application/json" } }))).body.code).toBe(
      "malformed_json",
    );
    expect((await both("/login", (p) => call(p, { body: "{}", headers: {} }))).body.code).toBe("unsupported_media_type");
    expect((await both("/login", (p) => app.json(p, { email: u.email, password: "x".repeat(20_000) }))).body.code).toBe(
      "payload_too_large",
    );
    const wrongMethod = await both("/login", (p) => call(p, { method: "GET" }));
    expect(wrongMethod.body.code).toBe("method_not_allowed");
  });

  it("forgot-password and reset-password", async () => {
    const forgot = await both("/forgot-password", (p) => app.json(p, { email: uniqueEmail("nobody") }));
    expect(forgot.body).toEqual({ status: "success", message: FORGOT_MESSAGE, user: { email: expect.stringMatching(/^nobody-/) } });
    expect((await both("/forgot-password", (p) => app.json(p, { email: "not an email" }))).body.code).toBe("validation_failed");
    const u = await registerUser();
    const wrong = await both("/reset-password", (p) => app.json(p, { email: u.email, otp: "000000", new_password: NEW_PASSWORD }));
    expect(wrong.body.code).toBe("invalid_otp");
  });

  it("update-profile: the form, no token, a JSON body", async () => {
    const u = await registerUser();
    const ok = await both("/update-profile", (p) => app.profile(p, u.access_token, { email: u.email, full_name: "Twin Profile" }));
    expect(ok.body.user.full_name).toBe("Twin Profile");
    expect((await both("/update-profile", (p) => app.profile(p, "", { email: u.email, full_name: "X" }))).body.code).toBe("unauthorized");
    expect((await both("/update-profile", (p) => app.json(p, { full_name: "X" }, { token: u.access_token }))).body.code).toBe(
      "unsupported_media_type",
    );
  });

  it("refuse NUL characters and lone surrogates like the canonical paths", async () => {
    for (const raw of ['{"email":"a\\u0000@example.com","password":"x"}', '{"email":"a@example.com","password":"\\ud800x"}']) {
      const r = await both("/login", (p) => call(p, { body: raw, headers: { "content-type": "application/json" } }));
      expect(r.status).toBe(400);
      expect(r.body.issues[0].message).toMatch(/NUL characters or unpaired UTF-16 surrogates/);
    }
    const u = await registerUser();
    const nul = await both("/update-profile", (p) => app.profile(p, u.access_token, { email: u.email, full_name: "Nul\u0000Name" }));
    expect(nul.body).toMatchObject({ code: "validation_failed", issues: [{ path: "full_name" }] });
    const reg = await both("/register", (p) => app.json(p, { ...registerBody(), full_name: "Lone \ud83d surrogate" }));
    expect(reg.body).toMatchObject({ code: "validation_failed", issues: [{ path: "full_name" }] });
  });

  it("share the canonical path's rate limit: one route, one bucket", async () => {
    const { limit, period } = inject("rateLimits").RL_REGISTER;
    const r = await inOneWindow(period, async () => {
      const ip = freshIp();
      const burst = await Promise.all(Array.from({ length: limit }, () => call("/register", { body: {}, ip })));
      const canonical = await call("/auth/register", { body: {}, ip });
      const alias = await call("/register", { body: {}, ip });
      return { burst: burst.map((b) => b.status), canonical, alias };
    });
    expect(r.burst).toEqual(Array(limit).fill(400));
    expect(r.canonical.status).toBe(429);
    expect(r.alias.status).toBe(429);
    expect(r.alias.headers.get("retry-after")).toBe(r.canonical.headers.get("retry-after"));
    expect(r.alias.headers.get("deprecation")).toBe(DEPRECATED_AT);
    expect(r.canonical.headers.get("deprecation")).toBeNull();
  });

  it("stay at the root under another BASE_PATH, linking to the configured prefix", async () => {
    const env = { BASE_PATH: "/api/v2" };
    const email = uniqueEmail("based");
    const res = await call("/register", { body: { full_name: "Based", email, password: PASSWORD, role: "student" }, env });
    expect(res.status).toBe(201);
    expect(res.headers.get("link")).toBe('</api/v2/register>; rel="successor-version"');
    expect((await call("/api/v2/login", { body: { email, password: PASSWORD }, env })).headers.get("deprecation")).toBeNull();
    expect((await call("/auth/login", { body: { email, password: PASSWORD }, env })).status).toBe(404);
  });

  it("LEGACY_ROOT_PATHS=false: the root paths answer 404 (any method); the canonical ones are unchanged", async () => {
    const env = { LEGACY_ROOT_PATHS: "false" };
    for (const path of LEGACY_ROOT_PATHS) {
      for (const method of ["POST", "GET"]) {
        const res = await call(path, { method, env, ...(method === "POST" ? { body: {} } : {}) });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect((await json(res)).code).toBe("not_found");
        expect(res.headers.get("deprecation")).toBeNull();
      }
    }
    const u = await registerUser({}, { env });
    expect((await call("/auth/login", { body: { email: u.email, password: PASSWORD }, env })).status).toBe(200);
    const doc = await json(await call("/openapi.json", { env }));
    expect(Object.keys(doc.paths)).toContain("/auth/login");
    for (const path of LEGACY_ROOT_PATHS) expect(Object.keys(doc.paths)).not.toContain(path);
  });
});

describe("the OpenAPI document", () => {
  it("lists the canonical paths and marks each root alias deprecated, with the same request and answers", async () => {
    const doc = await json(await call("/openapi.json"));
    for (const path of LEGACY_ROOT_PATHS) {
      const alias = doc.paths[path]?.post;
      const canonical = doc.paths[`/auth${path}`]?.post;
      expect(alias, path).toBeDefined();
      expect(alias.deprecated).toBe(true);
      expect(canonical.deprecated).toBeUndefined();
      expect(alias.requestBody).toEqual(canonical.requestBody);
      expect(alias.security).toEqual(canonical.security);
      expect(Object.keys(alias.responses)).toEqual(Object.keys(canonical.responses));
      expect(alias.description).toContain(`POST /auth${path}`);
      for (const r of Object.values<any>(alias.responses))
        expect(Object.keys(r.headers)).toEqual(expect.arrayContaining(["Deprecation", "Link"]));
    }
  });

  it("documents user.email in forgot-password's answer, schema and example", async () => {
    const doc = await json(await call("/openapi.json"));
    const ok = doc.paths["/auth/forgot-password"].post.responses["200"].content["application/json"];
    const schema = doc.components.schemas[ok.schema.$ref.replace("#/components/schemas/", "")];
    expect(schema.required).toEqual(expect.arrayContaining(["status", "message", "user"]));
    expect(schema.properties.user.properties).toEqual({ email: expect.objectContaining({ type: "string" }) });
    expect(schema.properties.user.required).toEqual(["email"]);
    expect(schema.example).toEqual({ status: "success", message: FORGOT_MESSAGE, user: { email: "ada@example.com" } });
  });
});

describe("the typed client (src/client.ts)", () => {
  it("types forgot-password's user.email", async () => {
    const intoWorker: typeof fetch = async (input, init) => {
      const req = new Request(input, init);
      return call(new URL(req.url).pathname, { method: req.method, body: await req.text(), headers: Object.fromEntries(req.headers) });
    };
    const email = uniqueEmail("typed");
    const res = await createClient("http://auth.test", { fetch: intoWorker }).auth["forgot-password"].$post({ json: { email } });
    if (res.status !== 200) throw new Error(`forgot-password answered ${res.status}`);
    const body = await res.json();
    const typed: string = body.user.email; // compiles only because the response type has it
    expect(typed).toBe(email);
  });
});
