import { describe, expect, it } from "vitest";
import { checkDimensions, readImageHeader, uprightSize } from "../../src/storage/image";
import { ascii, concat, fixture, riff, riffChunk } from "../support/avatars";
import { RED } from "../support/image-spec";

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** The JPEG with its first SOFn's frame size (and optionally its marker) rewritten; the scan stays small. */
function withFrame(jpeg: Uint8Array, width: number, height: number, marker?: number): Uint8Array {
  const out = jpeg.slice();
  for (let at = 2; at + 4 < out.length; at += 2 + ((out[at + 2] << 8) | out[at + 3])) {
    if (!isSof(out[at + 1])) continue;
    if (marker !== undefined) out[at + 1] = marker;
    out.set([height >> 8, height & 0xff, width >> 8, width & 0xff], at + 5);
    return out;
  }
  throw new Error("no SOF");
}

describe("readImageHeader (no decoding)", () => {
  it("reads JPEG, PNG and WebP sizes and EXIF orientation", async () => {
    for (const format of ["jpeg", "png", "webp"] as const) {
      const bytes = await fixture({ kind: "photo", format, width: 40, height: 30, orientation: 6, metadata: true });
      // Stored turned by 90°: 30 x 40, orientation 6 turns it back.
      const h = readImageHeader(bytes);
      expect(h, format).toEqual({ format, width: 30, height: 40, orientation: 6, animated: false });
      expect(uprightSize(h as NonNullable<typeof h>)).toEqual({ width: 40, height: 30 });
      const plain = readImageHeader(await fixture({ kind: "photo", format, width: 7, height: 9 }));
      expect(plain, format).toEqual({ format, width: 7, height: 9, orientation: 1, animated: false });
    }
  });

  it("reads the size from every SOFn marker (baseline, extended, progressive, lossless, arithmetic)", async () => {
    const jpeg = await fixture({ kind: "solid", format: "jpeg", width: 8, height: 8, color: RED });
    for (const m of [0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf])
      expect(readImageHeader(withFrame(jpeg, 1234, 567, m)), m.toString(16)).toMatchObject({ format: "jpeg", width: 1234, height: 567 });
    // A frame height of 0 (size given later by DNL) is not accepted.
    expect(readImageHeader(withFrame(jpeg, 100, 0))).toBeNull();
  });

  it("reads VP8L and the larger of a VP8X canvas and its bitstream; flags animations", async () => {
    // VP8L: signature 0x2f, then 14 bits width-1 and 14 bits height-1 (little-endian bit order).
    const bits = (300 - 1) | ((5000 - 1) << 14);
    const vp8l = riffChunk("VP8L", new Uint8Array([0x2f, bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, bits >>> 24, 0]));
    expect(readImageHeader(riff(vp8l))).toEqual({ format: "webp", width: 300, height: 5000, orientation: 1, animated: false });
    // A VP8X canvas of 20000 x 20000 around a small bitstream: the canvas counts.
    const canvas = (20000 - 1) & 0xffffff;
    const vp8x = riffChunk(
      "VP8X",
      new Uint8Array([0, 0, 0, 0, canvas & 0xff, (canvas >> 8) & 0xff, canvas >> 16, canvas & 0xff, (canvas >> 8) & 0xff, canvas >> 16]),
    );
    expect(readImageHeader(riff(vp8x, vp8l))).toMatchObject({ width: 20000, height: 20000 });
    for (const format of ["webp", "png"] as const)
      expect(readImageHeader(await fixture({ kind: "animated", format, size: 32 })), format).toMatchObject({
        animated: true,
        width: 32,
        height: 32,
      });
  });

  it("is null for anything not a complete image", async () => {
    const jpeg = await fixture({ kind: "photo", format: "jpeg", width: 16, height: 16 });
    const png = await fixture({ kind: "photo", format: "png", width: 16, height: 16 });
    for (const bytes of [
      jpeg.subarray(0, jpeg.length - 2),
      png.subarray(0, png.length - 1),
      ascii("GIF89a"),
      new Uint8Array(0),
      concat(jpeg, ascii("PK")),
    ])
      expect(readImageHeader(bytes)).toBeNull();
  });
});

describe("checkDimensions", () => {
  const limits = { maxPixels: 40_000_000, maxSide: 8000 };
  it("refuses a side over AVATAR_MAX_SIDE or a pixel count over AVATAR_MAX_PIXELS with 413 image_too_large_pixels", () => {
    for (const [width, height] of [
      [8001, 10],
      [10, 8001],
      [7000, 7000],
    ])
      expect(() => checkDimensions({ width, height }, limits)).toThrow(
        expect.objectContaining({ code: "image_too_large_pixels", status: 413 }),
      );
    expect(() => checkDimensions({ width: 8000, height: 5000 }, limits)).not.toThrow();
    expect(() => checkDimensions({ width: 40, height: 40 }, { maxPixels: 1000, maxSide: 8000 })).toThrow(/1000 pixels/);
  });
});
