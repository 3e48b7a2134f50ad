import { describe, expect, inject, it, vi } from "vitest";
import { registerUser } from "../../support/accounts";
import { decode, uploadIdOf } from "../../support/avatars";
import { db } from "../../support/db";
import { JPEG, jpegOfSize, PNG, pngOfSize, WEBP } from "../../support/images";
import { call, json } from "../../support/worker";

const MiB = 1024 * 1024;
const LIMIT = 5 * MiB;

function form(fields: Record<string, string | File>) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

const file = (bytes: Uint8Array, name: string, type = "application/octet-stream") => new File([bytes], name, { type });

const updateProfile = (
  token: string | undefined,
  body: FormData | ReadableStream | string,
  opts: { env?: Record<string, unknown>; headers?: Record<string, string> } = {},
) => call("/auth/update-profile", { body, token, ...opts });

/** Keys under a prefix, listed anonymously from the local S3 server. */
async function listKeys(prefix: string): Promise<string[]> {
  const res = await fetch(`${inject("s3Endpoint")}/${inject("s3Bucket")}?prefix=${encodeURIComponent(prefix)}`);
  expect(res.status).toBe(200);
  return [...(await res.text()).matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]);
}

async function userRow(id: string) {
  const sql = db();
  try {
    const [row] = await sql`select full_name, avatar from users where id = ${id}`;
    return row as { full_name: string; avatar: string | null };
  } finally {
    await sql.end();
  }
}

const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

/** Avatars are re-encoded (src/storage/avatar-images.ts): the stored object is a WebP of the standard size, not the upload. */
async function expectReencoded(got: Response, upload: Uint8Array, size = 512) {
  expect(got.headers.get("content-type")).toBe("image/webp");
  const bytes = await bytesOf(got);
  expect(bytes).not.toEqual(upload);
  expect(await decode(bytes)).toMatchObject({ format: "webp", width: size, height: size });
}

describe("POST /auth/update-profile", () => {
  it("updates the name only, trimmed, keeping the avatar", async () => {
    const u = await registerUser({ full_name: "Old Name" });
    const res = await updateProfile(u.access_token, form({ full_name: "  New Name  " }));
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      status: "success",
      message: "Profile updated.",
      user: {
        id: u.user.id,
        full_name: "New Name",
        email: u.email,
        role: "student",
        avatar: null,
        email_verified: false,
        requested_role: null,
        locale: null,
      },
    });
    expect(await userRow(u.user.id)).toEqual({ full_name: "New Name", avatar: null });
    const me = await json(await call("/auth/me", { token: u.access_token }));
    expect(me.user.full_name).toBe("New Name");

    const sql = db();
    const events = await sql`select outcome, detail from auth_audit_events where user_id = ${u.user.id} and event = 'profile_updated'`;
    await sql.end();
    expect(events).toEqual([{ outcome: "success", detail: { full_name: true, avatar: false } }]);
  });

  it("uploads an avatar: stored under a random key with its bytes, content type and cache headers; the URL serves it", async () => {
    const u = await registerUser();
    const res = await updateProfile(u.access_token, form({ full_name: "Ada", avatar: file(PNG, "me.png", "image/png") }));
    expect(res.status).toBe(200);
    const { user } = await json(res);
    const base = `${inject("s3Endpoint")}/${inject("s3Bucket")}/`;
    expect(user.avatar).toMatch(new RegExp(`^${base.replace(/[.]/g, "\\.")}avatars/${u.user.id}/[0-9a-f]{32}-512\\.webp$`));
    expect(user.full_name).toBe("Ada");
    expect((await userRow(u.user.id)).avatar).toBe(user.avatar);

    const got = await fetch(user.avatar);
    expect(got.status).toBe(200);
    expect(got.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    await expectReencoded(got, PNG);
    const key = user.avatar.slice(base.length);
    expect((await listKeys(`avatars/${u.user.id}/`)).sort()).toEqual([key.replace("-512.", "-128."), key]);
  });

  it("accepts an avatar alone (WebP too) and the caller's own email in another letter case", async () => {
    const u = await registerUser({ full_name: "Keeps Name" });
    const res = await updateProfile(u.access_token, form({ email: ` ${u.email.toUpperCase()} `, avatar: file(WEBP, "x.webp") }));
    expect(res.status).toBe(200);
    const { user } = await json(res);
    expect(user.full_name).toBe("Keeps Name");
    expect(user.avatar).toMatch(/-512\.webp$/);
    await expectReencoded(await fetch(user.avatar), WEBP);
  });

  it("replacing the avatar deletes the previous object", async () => {
    const u = await registerUser();
    const first = (await json(await updateProfile(u.access_token, form({ avatar: file(PNG, "a.png") })))).user.avatar as string;
    expect((await fetch(first)).status).toBe(200);
    const res = await updateProfile(u.access_token, form({ avatar: file(JPEG, "b.jpg") }));
    expect(res.status).toBe(200);
    const second = (await json(res)).user.avatar as string;
    expect(second).not.toBe(first);
    expect((await fetch(first)).status).toBe(404);
    expect((await fetch(second)).status).toBe(200);
    const keys = await listKeys(`avatars/${u.user.id}/`);
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => second.endsWith(k))).toBe(true);
    expect(keys.every((k) => uploadIdOf(k) === uploadIdOf(second))).toBe(true);
  });

  it("accepts exactly AVATAR_MAX_BYTES (5 MiB)", async () => {
    const u = await registerUser();
    const big = jpegOfSize(LIMIT);
    expect(big.length).toBe(LIMIT);
    const res = await updateProfile(u.access_token, form({ avatar: file(big, "big.jpg", "image/jpeg") }));
    expect(res.status).toBe(200);
    await expectReencoded(await fetch((await json(res)).user.avatar), big);
  });

  it("refuses 5 MiB + 1 byte with 413 and stores nothing", async () => {
    const u = await registerUser({ full_name: "Unchanged" });
    const res = await updateProfile(
      u.access_token,
      form({ full_name: "Changed", avatar: file(pngOfSize(LIMIT + 1), "big.png", "image/png") }),
    );
    expect(res.status).toBe(413);
    expect(await json(res)).toMatchObject({ status: "error", code: "payload_too_large", message: "The avatar must be at most 5 MiB." });
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
    expect(await userRow(u.user.id)).toEqual({ full_name: "Unchanged", avatar: null });
  });

  it("refuses a body far over the limit (by its Content-Length) with 413", async () => {
    const u = await registerUser();
    const res = await updateProfile(u.access_token, form({ avatar: file(pngOfSize(6 * MiB), "huge.png") }));
    expect(res.status).toBe(413);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
  });

  it("stops a streamed body without Content-Length soon after the limit: 413, nothing stored", async () => {
    const u = await registerUser();
    const boundary = "----profile-stream-test";
    const head = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="stream.png"\r\nContent-Type: image/png\r\n\r\n`,
    );
    const chunk = new Uint8Array(64 * 1024).fill(7);
    const total = 50 * MiB;
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled === 0) {
            controller.enqueue(head);
            pulled += head.length;
          } else if (pulled < total) {
            controller.enqueue(chunk);
            pulled += chunk.length;
          } else controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    const res = await updateProfile(u.access_token, body, { headers: { "content-type": `multipart/form-data; boundary=${boundary}` } });
    expect(res.status).toBe(413);
    expect((await json(res)).code).toBe("payload_too_large");
    // Read: the limit plus the multipart allowance (64 KiB) plus at most a few chunks in flight.
    expect(pulled).toBeGreaterThan(LIMIT);
    expect(pulled).toBeLessThan(LIMIT + 64 * 1024 + 512 * 1024);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
  });

  it("decides the type by the bytes: JPEG bytes named .png are read as JPEG (and re-encoded)", async () => {
    const u = await registerUser();
    const res = await updateProfile(u.access_token, form({ avatar: file(JPEG, "photo.png", "image/png") }));
    expect(res.status).toBe(200);
    const { user } = await json(res);
    expect(user.avatar).toMatch(/-512\.webp$/);
    await expectReencoded(await fetch(user.avatar), JPEG);
  });

  it("refuses a text file named .png, an empty file and a truncated image with 415, storing nothing", async () => {
    const u = await registerUser({ full_name: "Same" });
    const cases = [
      file(new TextEncoder().encode("just some text, not an image\n"), "avatar.png", "image/png"),
      file(new Uint8Array(0), "empty.png", "image/png"),
      file(PNG.subarray(0, PNG.length - 5), "cut.png", "image/png"),
      file(JPEG.subarray(0, JPEG.length - 2), "cut.jpg", "image/jpeg"),
    ];
    for (const avatar of cases) {
      const res = await updateProfile(u.access_token, form({ full_name: "Other", avatar }));
      expect(res.status, avatar.name).toBe(415);
      expect(await json(res)).toMatchObject({ status: "error", code: "unsupported_image_type" });
    }
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
    expect(await userRow(u.user.id)).toEqual({ full_name: "Same", avatar: null });
  });

  it("refuses an email field of another user with 403 and changes nothing", async () => {
    const victim = await registerUser({ full_name: "Victim" });
    const attacker = await registerUser({ full_name: "Attacker" });
    const res = await updateProfile(attacker.access_token, form({ email: victim.email, full_name: "Pwned", avatar: file(PNG, "x.png") }));
    expect(res.status).toBe(403);
    expect((await json(res)).code).toBe("email_mismatch");
    expect(await userRow(victim.user.id)).toEqual({ full_name: "Victim", avatar: null });
    expect(await userRow(attacker.user.id)).toEqual({ full_name: "Attacker", avatar: null });
    expect(await listKeys(`avatars/${attacker.user.id}/`)).toEqual([]);
    expect(await listKeys(`avatars/${victim.user.id}/`)).toEqual([]);
  });

  it("answers 401 without a token or with a bad one", async () => {
    const none = await updateProfile(undefined, form({ full_name: "X" }));
    expect(none.status).toBe(401);
    expect((await json(none)).status).toBe("error");
    const bad = await updateProfile("not-a-real-token", form({ full_name: "X" }));
    expect(bad.status).toBe(401);
    const u = await registerUser();
    const tampered = await updateProfile(`${u.access_token.slice(0, -4)}AAAA`, form({ full_name: "X" }));
    expect(tampered.status).toBe(401);
    expect((await userRow(u.user.id)).full_name).toBe("Test User");
  });

  it("validates: nothing to change or a bad name -> 400; not multipart -> 415", async () => {
    const u = await registerUser();
    const empty = await updateProfile(u.access_token, form({ email: u.email }));
    expect(empty.status).toBe(400);
    expect((await json(empty)).code).toBe("validation_failed");
    // A browser form with no file chosen sends an empty unnamed file: same as no avatar.
    const fd = form({});
    fd.append("avatar", new File([], ""));
    expect((await updateProfile(u.access_token, fd)).status).toBe(400);
    expect((await updateProfile(u.access_token, form({ full_name: "   " }))).status).toBe(400);
    expect((await updateProfile(u.access_token, form({ full_name: "x".repeat(101) }))).status).toBe(400);
    expect((await updateProfile(u.access_token, form({ full_name: "x", avatar: "not a file" }))).status).toBe(400);
    const asJson = await call("/auth/update-profile", { body: { full_name: "Json" }, token: u.access_token });
    expect(asJson.status).toBe(415);
    expect(await userRow(u.user.id)).toEqual({ full_name: "Test User", avatar: null });
  });

  it("S3 unreachable -> 503 and the profile is unchanged", async () => {
    const u = await registerUser({ full_name: "Before" });
    const first = (await json(await updateProfile(u.access_token, form({ avatar: file(PNG, "a.png") })))).user.avatar;
    const res = await updateProfile(u.access_token, form({ full_name: "After", avatar: file(JPEG, "b.jpg") }), {
      env: { S3_ENDPOINT: "http://127.0.0.1:1" },
    });
    expect(res.status).toBe(503);
    expect(await json(res)).toMatchObject({ status: "error", code: "storage_unavailable" });
    expect(await userRow(u.user.id)).toEqual({ full_name: "Before", avatar: first });
    expect((await fetch(first)).status).toBe(200);
  });

  it("when saving the profile fails after the upload, the new object is removed", async () => {
    const u = await registerUser({ full_name: "Before" });
    // A real database failure for this one user's row: a trigger that refuses the update.
    const sql = db();
    const fn = `fail_update_${u.user.id.replace(/-/g, "")}`;
    await sql.unsafe(`create function ${fn}() returns trigger language plpgsql as $$ begin raise exception 'refused by test'; end $$`);
    await sql.unsafe(`create trigger ${fn} before update on users for each row when (old.id = '${u.user.id}') execute function ${fn}()`);
    try {
      const res = await updateProfile(u.access_token, form({ full_name: "After", avatar: file(PNG, "a.png") }));
      expect(res.status).toBe(500);
      expect(await json(res)).toMatchObject({ status: "error", code: "internal_error" });
      expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
      expect(await userRow(u.user.id)).toEqual({ full_name: "Before", avatar: null });
    } finally {
      await sql.unsafe(`drop trigger ${fn} on users; drop function ${fn}()`);
      await sql.end();
    }
  });

  it("S3 answering an error (missing bucket) -> 502 and the profile is unchanged", async () => {
    const u = await registerUser({ full_name: "Before" });
    const logged = vi.spyOn(console, "error");
    const res = await updateProfile(u.access_token, form({ full_name: "After", avatar: file(PNG, "a.png") }), {
      env: { S3_BUCKET: "no-such-bucket" },
    });
    expect(res.status).toBe(502);
    // The SDK parsed S3's XML error inside workerd (no DOMParser there): its code is in the log.
    const lines = logged.mock.calls.map((c) => String(c[0]));
    logged.mockRestore();
    expect(lines.some((l) => l.includes('"error":"NoSuchBucket"'))).toBe(true);
    expect(await json(res)).toMatchObject({ status: "error", code: "storage_error" });
    expect(await userRow(u.user.id)).toEqual({ full_name: "Before", avatar: null });
  });

  it("without storage settings: avatar uploads answer 503, name changes still work", async () => {
    const u = await registerUser({ full_name: "Before" });
    const env = { S3_BUCKET: "", S3_ACCESS_KEY_ID: "" };
    const res = await updateProfile(u.access_token, form({ full_name: "After", avatar: file(PNG, "a.png") }), { env });
    expect(res.status).toBe(503);
    expect((await json(res)).code).toBe("storage_unavailable");
    expect(await userRow(u.user.id)).toEqual({ full_name: "Before", avatar: null });
    const nameOnly = await updateProfile(u.access_token, form({ full_name: "After" }), { env });
    expect(nameOnly.status).toBe(200);
    expect(await userRow(u.user.id)).toEqual({ full_name: "After", avatar: null });
  });

  it("uses AVATAR_PUBLIC_BASE_URL for the stored URL and still deletes the replaced object", async () => {
    const u = await registerUser();
    const env = { AVATAR_PUBLIC_BASE_URL: "https://cdn.example.com/media" };
    const first = (await json(await updateProfile(u.access_token, form({ avatar: file(PNG, "a.png") }), { env }))).user.avatar as string;
    expect(first).toMatch(new RegExp(`^https://cdn\\.example\\.com/media/avatars/${u.user.id}/[0-9a-f]{32}-512\\.webp$`));
    const second = (await json(await updateProfile(u.access_token, form({ avatar: file(PNG, "b.png") }), { env }))).user.avatar as string;
    const keys = await listKeys(`avatars/${u.user.id}/`);
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => second.endsWith(k))).toBe(true);
    expect(keys.every((k) => uploadIdOf(k) === uploadIdOf(second))).toBe(true);
  });

  it("is described in the OpenAPI document as multipart with a binary file", async () => {
    const doc = await json(await call("/openapi.json"));
    const op = doc.paths["/auth/update-profile"].post;
    const schema = op.requestBody.content["multipart/form-data"].schema;
    const resolved = schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
    expect(resolved.properties.avatar).toMatchObject({ type: "string", format: "binary" });
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "413", "415", "429", "502", "503"]));
  });
});
