import exifr from "exifr";
import { describe, expect, it, vi } from "vitest";
import { registerUser } from "../../support/accounts";
import {
  ascii,
  bytesOf,
  concat,
  decode,
  expectUpright,
  file,
  fixture,
  form,
  type Image,
  imagesThrough,
  includesBytes,
  jpegMarkers,
  jpegSegment,
  listKeys,
  near,
  profileRow,
  upload,
  uploadIdOf,
  webpChunks,
} from "../../support/avatars";
import { CAMERA, COMMENT, RED } from "../../support/image-spec";
import { call, json, testEnv } from "../../support/worker";

/** Bytes of the metadata the fixtures carry: none may reach a stored avatar. */
const SECRETS = ["GPS", CAMERA.Model, CAMERA.Make, "xmpmeta", "Exif", COMMENT].map(ascii);

const realImages = () => testEnv.IMAGES as ImagesBinding;

interface Stored {
  bytes: Uint8Array;
  type: string | null;
  cache: string | null;
  image: Image;
}

/** Upload, expect 200 and the two standard sizes stored; returns each stored object, read back. */
async function uploadOk(bytes: Uint8Array, name: string, env?: Record<string, unknown>) {
  const u = await registerUser();
  const res = await upload(u.access_token, file(bytes, name), { env });
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(Object.keys(body.avatar_sizes).sort()).toEqual(["128", "512"]);
  expect(body.user.avatar).toBe(body.avatar_sizes["512"]);
  expect((await profileRow(u.user.id)).avatar).toBe(body.user.avatar);
  const objects: Record<string, Stored> = {};
  for (const [size, url] of Object.entries(body.avatar_sizes as Record<string, string>)) {
    const got = await fetch(url);
    expect(got.status).toBe(200);
    const stored = await bytesOf(got);
    objects[size] = {
      bytes: stored,
      type: got.headers.get("content-type"),
      cache: got.headers.get("cache-control"),
      image: await decode(stored),
    };
  }
  const keys = await listKeys(`avatars/${u.user.id}/`);
  expect(keys).toHaveLength(2);
  return { u, body, objects, keys };
}

/** A stored WebP: square at `size`, upright, its bitstream only (no EXIF/XMP chunk), none of the upload's metadata bytes. */
function expectCleanWebp(o: Stored, size: number) {
  expect(o.type).toBe("image/webp");
  expect(o.cache).toBe("public, max-age=31536000, immutable");
  // exifr reads no WebP ("Unknown file format"): the chunks are listed, and sharp finds no EXIF/XMP.
  expect(webpChunks(o.bytes).filter((c) => !["VP8 ", "VP8L", "VP8X", "ALPH", "ICCP"].includes(c))).toEqual([]);
  for (const s of SECRETS) expect(includesBytes(o.bytes, s)).toBe(false);
  expect(o.image).toMatchObject({ format: "webp", width: size, height: size, exif: false, xmp: false, orientation: null, pages: 1 });
  expectUpright(o.image);
}

describe("avatar images (through the Worker, Cloudflare Images' local emulation and the S3 server)", () => {
  it("JPEG with EXIF GPS and orientation 6: stored upright, square, 512 and 128 px, with no EXIF, XMP or comment", async () => {
    const input = await fixture({ kind: "photo", format: "jpeg", width: 96, height: 64, orientation: 6, metadata: true });
    // The fixture really carries what must go: an independent parser finds the position and orientation.
    expect((await exifr.gps(input)).latitude).toBeCloseTo(48.8567, 3);
    expect((await exifr.parse(input, { translateValues: false })).Orientation).toBe(6);
    expect(await decode(input)).toMatchObject({ width: 64, height: 96, exif: true, xmp: true, comments: [COMMENT] });

    const { u, body, objects, keys } = await uploadOk(input, "phone.jpg");
    expect(body.user.avatar).toMatch(new RegExp(`/avatars/${u.user.id}/[0-9a-f]{32}-512\\.webp$`));
    expect(keys.map((k) => k.replace(/[0-9a-f]{32}/, "ID"))).toEqual([
      `avatars/${u.user.id}/ID-128.webp`,
      `avatars/${u.user.id}/ID-512.webp`,
    ]);
    expect(uploadIdOf(keys[0])).toBe(uploadIdOf(body.user.avatar));
    expect(uploadIdOf(keys[1])).toBe(uploadIdOf(body.user.avatar));
    expectCleanWebp(objects["512"], 512);
    expectCleanWebp(objects["128"], 128);
  });

  it("PNG with eXIf (GPS, orientation 6), XMP and a text comment: likewise", async () => {
    const input = await fixture({ kind: "photo", format: "png", width: 96, height: 64, orientation: 6, metadata: true });
    expect((await exifr.gps(input)).latitude).toBeCloseTo(48.8567, 3);
    expect(await decode(input)).toMatchObject({ format: "png", width: 64, height: 96, orientation: 6, exif: true, xmp: true });
    const { objects } = await uploadOk(input, "screen.png");
    expectCleanWebp(objects["512"], 512);
    expectCleanWebp(objects["128"], 128);
  });

  it("WebP with EXIF (GPS, orientation 6) and XMP chunks: likewise", async () => {
    const input = await fixture({ kind: "photo", format: "webp", width: 96, height: 64, orientation: 6, metadata: true });
    expect(webpChunks(input)).toEqual(expect.arrayContaining(["VP8X", "EXIF", "XMP "]));
    expect(await decode(input)).toMatchObject({ format: "webp", width: 64, height: 96, orientation: 6, exif: true, xmp: true });
    const { objects } = await uploadOk(input, "photo.webp");
    expectCleanWebp(objects["512"], 512);
    expectCleanWebp(objects["128"], 128);
  });

  it("AVATAR_FORMAT=jpeg, AVATAR_FIT=contain: JPEGs whose long side is the size, aspect kept, upright, no APP1/APP13/COM", async () => {
    const input = await fixture({ kind: "photo", format: "jpeg", width: 96, height: 64, orientation: 6, metadata: true });
    const { body, objects } = await uploadOk(input, "phone.jpg", { AVATAR_FORMAT: "jpeg", AVATAR_FIT: "contain" });
    expect(body.user.avatar).toMatch(/-512\.jpg$/);
    for (const [size, o] of Object.entries(objects)) {
      expect(o.type).toBe("image/jpeg");
      for (const m of [0xe1, 0xed, 0xfe]) expect(jpegMarkers(o.bytes)).not.toContain(m);
      for (const s of SECRETS) expect(includesBytes(o.bytes, s)).toBe(false);
      expect(await exifr.parse(o.bytes, { tiff: true, gps: true, xmp: true, iptc: true })).toBeUndefined();
      // 96 x 64 upright, fitted within size x size: landscape, long side = size.
      expect([o.image.width, o.image.height]).toEqual([Number(size), Math.round((Number(size) * 64) / 96)]);
      expect(o.image).toMatchObject({ exif: false, xmp: false, orientation: null });
      expectUpright(o.image);
    }
  });

  it("a polyglot with HTML and ZIP bytes inside the JPEG is stored as a clean re-encoded image; one with a payload after its end is refused", async () => {
    const jpeg = await fixture({ kind: "photo", format: "jpeg", width: 64, height: 64 });
    const html = ascii("<html><script>alert(document.cookie)</script></html>");
    const zip = concat(ascii("PK\u0003\u0004"), ascii("payload.txt: owned"));
    const inside = concat(jpeg.subarray(0, 2), jpegSegment(0xfe, html), jpegSegment(0xef, zip), jpeg.subarray(2));
    const { objects } = await uploadOk(inside, "innocent.jpg");
    for (const o of Object.values(objects)) {
      expect(includesBytes(o.bytes, ascii("<script"))).toBe(false);
      expect(includesBytes(o.bytes, ascii("PK\u0003\u0004"))).toBe(false);
      expectUpright(o.image);
    }

    const u = await registerUser({ full_name: "Same" });
    for (const payload of [html, zip]) {
      const res = await upload(u.access_token, file(concat(jpeg, payload), "innocent.jpg"));
      expect(res.status).toBe(415);
      expect((await json(res)).code).toBe("unsupported_image_type");
    }
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
  });

  it("refuses images too large to decode from their header alone (413 image_too_large_pixels): Cloudflare Images never sees them", async () => {
    const u = await registerUser({ full_name: "Same" });
    // A complete, valid 20,000 x 20,000 PNG: a few KB on disk, 400 megapixels once decoded.
    const bomb = await fixture({ kind: "bomb", width: 20_000, height: 20_000 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const small = await fixture({ kind: "solid", format: "jpeg", width: 16, height: 16, color: RED });
    // The same JPEG claiming a 30,000 x 30,000 frame in its SOF0.
    const claim = small.slice();
    for (let at = 2; ; at += 2 + ((claim[at + 2] << 8) | claim[at + 3]))
      if (claim[at + 1] === 0xc0) {
        claim.set([30_000 >> 8, 30_000 & 0xff, 30_000 >> 8, 30_000 & 0xff], at + 5);
        break;
      }
    const images = imagesThrough(realImages());
    for (const [bytes, name] of [
      [bomb, "bomb.png"],
      [claim, "claim.jpg"],
    ] as const) {
      const res = await upload(u.access_token, file(bytes, name), { env: { IMAGES: images.binding } });
      expect(res.status, name).toBe(413);
      expect(await json(res)).toMatchObject({ status: "error", code: "image_too_large_pixels" });
    }
    expect(images.calls.inputs).toBe(0);
    // The pixel count alone, under the side limit.
    const res = await upload(u.access_token, file(small, "a.jpg"), { env: { IMAGES: images.binding, AVATAR_MAX_PIXELS: "255" } });
    expect(res.status).toBe(413);
    expect((await json(res)).message).toContain("255 pixels");
    expect(images.calls.inputs).toBe(0);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
    expect(await profileRow(u.user.id)).toEqual({ full_name: "Same", avatar: null });
    // The same wrapper sees an ordinary upload: one call per size.
    expect((await upload(u.access_token, file(small, "ok.jpg"), { env: { IMAGES: images.binding } })).status).toBe(200);
    expect(images.calls.inputs).toBe(2);
  });

  it("a truncated JPEG -> 415 before Cloudflare Images; one it cannot decode -> 415; nothing stored", async () => {
    const u = await registerUser({ full_name: "Same" });
    const jpeg = await fixture({ kind: "photo", format: "jpeg", width: 64, height: 48, metadata: true });
    const images = imagesThrough(realImages());
    for (const [bytes, name] of [
      [jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), "cut.jpg"],
      [jpeg.subarray(0, 400), "header-only.jpg"],
    ] as const) {
      const res = await upload(u.access_token, file(bytes, name), { env: { IMAGES: images.binding } });
      expect(res.status, name).toBe(415);
      expect((await json(res)).code).toBe("unsupported_image_type");
    }
    expect(images.calls.inputs).toBe(0);
    // Complete as a container (every chunk in place) but its compressed pixels are garbage: only a decoder can tell.
    const png = await fixture({ kind: "photo", format: "png", width: 32, height: 32 });
    const idat = [...Array(png.length).keys()].find((i) => String.fromCharCode(...png.subarray(i, i + 4)) === "IDAT") as number;
    const corrupt = png.slice();
    corrupt.fill(0x55, idat + 4, idat + 40);
    const res = await upload(u.access_token, file(corrupt, "corrupt.png"), { env: { IMAGES: images.binding } });
    expect(res.status).toBe(415);
    expect((await json(res)).code).toBe("unsupported_image_type");
    expect(images.calls.inputs).toBe(1);
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
    expect(await profileRow(u.user.id)).toEqual({ full_name: "Same", avatar: null });
  });

  it("animated PNG and WebP: the first frame is kept; transparency stays in WebP", async () => {
    for (const format of ["png", "webp"] as const) {
      const input = await fixture({ kind: "animated", format, size: 32 });
      const { objects } = await uploadOk(input, `anim.${format}`);
      expect(objects["512"].image.pages).toBe(1);
      expect(near(objects["512"].image, 256, 256, RED)).toBe(true);
    }
    const clear = await fixture({ kind: "solid", format: "png", width: 8, height: 8, color: [10, 10, 10, 0] });
    const { objects } = await uploadOk(clear, "clear.png");
    expect(objects["128"].image.rgba[3]).toBe(0);
  });
});

describe("avatar images: when Cloudflare Images misbehaves", () => {
  it("output carrying EXIF, XMP and a comment (a service keeping metadata): stored without them", async () => {
    const exif = await fixture({ kind: "photo", format: "jpeg", width: 8, height: 8, orientation: 6, metadata: true });
    // The fixture's APP1 EXIF, XMP and COM segments, added to every output the binding returns.
    const meta: Uint8Array[] = [];
    for (let at = 2; exif[at + 1] !== 0xda; at += 2 + ((exif[at + 2] << 8) | exif[at + 3]))
      if ([0xe1, 0xfe].includes(exif[at + 1])) meta.push(exif.subarray(at, at + 2 + ((exif[at + 2] << 8) | exif[at + 3])));
    expect(meta).toHaveLength(3);
    const images = imagesThrough(realImages(), { output: (b) => concat(b.subarray(0, 2), ...meta, b.subarray(2)) });
    const logged = vi.spyOn(console, "log");
    const input = await fixture({ kind: "photo", format: "jpeg", width: 96, height: 64 });
    const { objects } = await uploadOk(input, "a.jpg", { AVATAR_FORMAT: "jpeg", IMAGES: images.binding });
    const lines = logged.mock.calls.map((c) => String(c[0])).filter((l) => l.includes("metadata removed"));
    logged.mockRestore();
    expect(lines).toHaveLength(2);
    for (const o of Object.values(objects)) {
      expect(await exifr.parse(o.bytes, { tiff: true, gps: true, xmp: true })).toBeUndefined();
      for (const s of SECRETS) expect(includesBytes(o.bytes, s)).toBe(false);
      expect(o.image).toMatchObject({ exif: false, xmp: false, comments: [] });
      expectUpright(o.image);
    }
  });

  it("failing, hanging, missing or answering the wrong image: 503 image_processing_unavailable, nothing stored, name unchanged", async () => {
    const u = await registerUser({ full_name: "Before" });
    const input = await fixture({ kind: "photo", format: "jpeg", width: 64, height: 64 });
    const serviceError = Object.assign(new Error("IMAGES_TRANSFORM_ERROR 9422: usage limit reached"), { code: 9422 });
    const cases: [string, Record<string, unknown>][] = [
      ["fails", { IMAGES: imagesThrough(realImages(), { fail: () => Promise.reject(serviceError) }).binding }],
      ["hangs", { IMAGES_TIMEOUT: "1s", IMAGES: imagesThrough(realImages(), { fail: () => new Promise<never>(() => {}) }).binding }],
      ["missing", { IMAGES: undefined }],
      [
        "answers a PNG",
        {
          IMAGES: imagesThrough(realImages(), { output: () => fixture({ kind: "photo", format: "png", width: 512, height: 512 }) }).binding,
        },
      ],
      [
        "answers 256 px",
        {
          IMAGES: imagesThrough(realImages(), { output: () => fixture({ kind: "photo", format: "webp", width: 256, height: 256 }) })
            .binding,
        },
      ],
    ];
    for (const [name, env] of cases) {
      const res = await call("/auth/update-profile", {
        body: form({ full_name: "After", avatar: file(input, "a.jpg") }),
        token: u.access_token,
        env,
      });
      expect(res.status, name).toBe(503);
      expect(res.headers.get("retry-after"), name).toBe("5");
      expect((await json(res)).code, name).toBe("image_processing_unavailable");
    }
    expect(await listKeys(`avatars/${u.user.id}/`)).toEqual([]);
    expect(await profileRow(u.user.id)).toEqual({ full_name: "Before", avatar: null });
    // Without the binding, a name change still works.
    const nameOnly = await call("/auth/update-profile", {
      body: form({ full_name: "After" }),
      token: u.access_token,
      env: { IMAGES: undefined },
    });
    expect(nameOnly.status).toBe(200);
    expect(await profileRow(u.user.id)).toEqual({ full_name: "After", avatar: null });
  });
});
