import { describe, expect, inject, it, vi } from "vitest";
import { registerUser } from "../../support/accounts";
import { bucketBase, file, fixture, form, listKeys, profileRow, putObject, setAvatar, upload, uploadIdOf } from "../../support/avatars";
import { fakeClock, MIN } from "../../support/clock";
import { YELLOW } from "../../support/image-spec";
import { call, json, runScheduled } from "../../support/worker";

const hex32 = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

const stall = (action: "stall" | "resume") => fetch(`${inject("s3StallControl")}/${action}`, { method: "POST" });
const stallState = async () => (await (await fetch(`${inject("s3StallControl")}/state`)).json()) as { stalled: boolean; held: number };

/** The hourly purge, run as if `ahead` ms from now (objects look that much older). */
const purgeAt = (ahead: number) => runScheduled({ now: fakeClock(Date.now() + ahead).now });

describe("avatar storage: what is deleted, faults, orphans", () => {
  it("a replaced avatar this service did not write for this user is left in place and logged; its own (older scheme too) is deleted", async () => {
    const image = await fixture({ kind: "photo", format: "png", width: 16, height: 16 });
    const victim = await registerUser();
    const victimAvatar = (await json(await upload(victim.access_token, file(image, "v.png")))).user.avatar as string;
    const victimKeys = await listKeys(`avatars/${victim.user.id}/`);
    expect(victimKeys).toHaveLength(2);

    const u = await registerUser();
    const legacy = `avatars/${u.email}_avatar.png`;
    await putObject(legacy, image);
    const oldScheme = `avatars/${u.user.id}/${hex32()}.png`;
    await putObject(oldScheme, image);
    const warn = vi.spyOn(console, "warn");
    const cases: [string, string, boolean][] = [
      // [users.avatar before the upload, object it names, deleted?]
      [legacy, legacy, false], // the old service's relative key
      [`${bucketBase()}${legacy.replace("@", "%40")}`, legacy, false], // the same as a URL of this bucket
      [victimAvatar, victimKeys[1], false], // another user's folder
      [`${bucketBase()}${oldScheme}`, oldScheme, true], // this service, one object per upload (before re-encoding)
    ];
    try {
      for (const [before, object, deleted] of cases) {
        await setAvatar(u.user.id, before);
        const res = await upload(u.access_token, file(image, "new.png"));
        expect(res.status).toBe(200);
        expect((await listKeys(object)).length, before).toBe(deleted ? 0 : 1);
      }
      const lines = warn.mock.calls.map((c) => JSON.parse(String(c[0])));
      const leftAlone = lines.filter((l) => l.msg.startsWith("replaced avatar left in place") && l.userId === u.user.id);
      expect(leftAlone.map((l) => l.reason)).toEqual(["not_in_bucket", "foreign_key", "foreign_key"]);
    } finally {
      warn.mockRestore();
    }
    expect(await listKeys(`avatars/${victim.user.id}/`)).toEqual(victimKeys);
    expect((await profileRow(victim.user.id)).avatar).toBe(victimAvatar);
  });

  it("concurrent uploads by one user: each deletes exactly the avatar it replaced, only the last one's sizes remain", async () => {
    const u = await registerUser();
    const image = await fixture({ kind: "photo", format: "png", width: 16, height: 16 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => upload(u.access_token, file(image, `${i}.png`))));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const id = uploadIdOf((await profileRow(u.user.id)).avatar as string);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([`avatars/${u.user.id}/${id}-128.webp`, `avatars/${u.user.id}/${id}-512.webp`]);
  });

  it("with the S3 server stalled, an upload answers 503 storage_unavailable while its writes are still held; after it resumes and the purge runs, no unreferenced object remains", async () => {
    const u = await registerUser({ full_name: "Before" });
    const first = (
      await json(await upload(u.access_token, file(await fixture({ kind: "photo", format: "png", width: 16, height: 16 }), "a.png")))
    ).user.avatar as string;
    const kept = await listKeys(`avatars/${u.user.id}/`);
    expect(kept).toHaveLength(2);

    const body = form({
      full_name: "After",
      avatar: file(await fixture({ kind: "solid", format: "png", width: 64, height: 64, color: YELLOW }), "b.png"),
    });
    expect((await stall("stall")).status).toBe(200);
    let res: Response | undefined;
    let atAnswer: { stalled: boolean; held: number } | undefined;
    try {
      res = await call("/auth/update-profile", {
        body,
        token: u.access_token,
        env: { S3_ENDPOINT: inject("s3StallEndpoint"), S3_TIMEOUT: "1s" },
        // Before the background cleanup: what the S3 server had received when the API answered.
        onResponse: async () => {
          atAnswer = await stallState();
        },
      });
    } finally {
      // The held PUTs (and the cleanup's DELETEs) reach the server now, after the API gave up.
      expect((await stall("resume")).status).toBe(200);
    }
    expect(res?.status).toBe(503);
    expect(await json(res as Response)).toMatchObject({ status: "error", code: "storage_unavailable" });
    // Answered by our deadline (S3_TIMEOUT), not by the server: its writes were still held.
    expect(atAnswer).toMatchObject({ stalled: true });
    expect(atAnswer?.held).toBeGreaterThan(0);
    expect(await profileRow(u.user.id)).toEqual({ full_name: "Before", avatar: first });

    // After the resume the held writes may have landed (whether the cleanup's deletes came
    // before or after them depends on delivery order): only that one upload's sizes, if anything.
    const landed = (await listKeys(`avatars/${u.user.id}/`)).filter((k) => !kept.includes(k));
    expect(new Set(landed.map(uploadIdOf)).size).toBeLessThanOrEqual(1);
    // Whatever landed after the API gave up is swept once old enough.
    await purgeAt(2 * 60 * MIN);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual(kept);
    expect((await fetch(first)).status).toBe(200);
  });

  it("the purge deletes this service's unreferenced objects once older than AVATAR_ORPHAN_MIN_AGE, and nothing else", async () => {
    const image = await fixture({ kind: "photo", format: "png", width: 16, height: 16 });
    const u = await registerUser();
    await upload(u.access_token, file(image, "a.png"));
    const currentKeys = await listKeys(`avatars/${u.user.id}/`);
    const orphans = [
      `avatars/${u.user.id}/${hex32()}-512.webp`,
      `avatars/${u.user.id}/${hex32()}-128.webp`,
      `avatars/${u.user.id}/${hex32()}.jpg`,
      `avatars/${crypto.randomUUID()}/${hex32()}-512.webp`, // a deleted user's
    ];
    const notOurs = [
      `avatars/${u.user.id}/notes.txt`,
      `avatars/${u.user.id}/${hex32()}-512.gif`,
      `avatars/${u.email}_avatar.png`,
      `elsewhere/${u.user.id}/${hex32()}-512.webp`,
    ];
    for (const k of [...orphans, ...notOurs]) await putObject(k, image);

    // Younger than AVATAR_ORPHAN_MIN_AGE (1 h): an upload in flight looks just like this.
    await purgeAt(50 * MIN);
    for (const k of orphans) expect(await listKeys(k), k).toEqual([k]);

    await purgeAt(70 * MIN);
    for (const k of orphans) expect(await listKeys(k), k).toEqual([]);
    for (const k of notOurs) expect(await listKeys(k), k).toEqual([k]);
    const left = await listKeys(`avatars/${u.user.id}/`);
    expect(left.filter((k) => !k.endsWith(".txt") && !k.endsWith(".gif"))).toEqual(currentKeys);
  });
});
