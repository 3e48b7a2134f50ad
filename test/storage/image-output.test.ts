import exifr from "exifr";
import { describe, expect, it } from "vitest";
import { cleanOutput, UnexpectedOutputError } from "../../src/storage/image-output";
import { ascii, concat, decode, fixture, includesBytes, jpegMarkers, jpegSegment, riff, riffChunk, webpChunks } from "../support/avatars";
import { CAMERA, COMMENT, XMP } from "../support/image-spec";

// What Cloudflare Images could hand back: a real encoder's output with metadata added the way
// a service keeping some of it would (EXIF with GPS, XMP, IPTC, a comment, bytes after the end).
const SECRETS = ["GPS", CAMERA.Model, CAMERA.Make, "xmpmeta", "Exif", COMMENT, "Photoshop"].map(ascii);

const exifBlock = async () => {
  // The EXIF APP1 of a phone-like JPEG (GPS, camera, orientation 6), taken from a lab fixture.
  const jpeg = await fixture({ kind: "photo", format: "jpeg", width: 16, height: 16, orientation: 6, metadata: true });
  for (let at = 2; ; ) {
    const len = (jpeg[at + 2] << 8) | jpeg[at + 3];
    const payload = jpeg.subarray(at + 4, at + 2 + len);
    if (jpeg[at + 1] === 0xe1 && String.fromCharCode(...payload.subarray(0, 4)) === "Exif") return payload;
    at += 2 + len;
  }
};

describe("cleanOutput: JPEG", () => {
  it("cuts EXIF (GPS, orientation), XMP, IPTC, comments, unknown APPn and trailing bytes; keeps JFIF and ICC; pixels unchanged", async () => {
    const plain = await fixture({ kind: "photo", format: "jpeg", width: 64, height: 64 });
    expect(jpegMarkers(plain)).not.toContain(0xe1);
    const icc = jpegSegment(0xe2, concat(ascii("ICC_PROFILE\0"), new Uint8Array([1, 1]), new Uint8Array(32).fill(7)));
    const exif = await exifBlock();
    const crafted = concat(
      plain.subarray(0, 2),
      jpegSegment(0xe1, exif),
      jpegSegment(0xe1, concat(ascii("http://ns.adobe.com/xap/1.0/\0"), ascii(XMP))),
      jpegSegment(0xed, ascii("Photoshop 3.0\0 8BIM iptc")),
      jpegSegment(0xfe, ascii(COMMENT)),
      jpegSegment(0xe9, ascii("Vendor\0private data")),
      icc,
      plain.subarray(2),
      ascii("PK\u0003\u0004 trailing zip"),
    );
    // The crafted output really carries what must go, by an independent parser.
    expect((await exifr.gps(crafted)).latitude).toBeCloseTo(48.8567, 3);
    expect((await exifr.parse(crafted, { translateValues: false })).Orientation).toBe(6);

    const out = cleanOutput(crafted, { format: "jpeg", width: 64, height: 64 });
    expect(out.removed).toEqual([
      "APP1 Exif",
      "APP1 http://ns.adobe.com/xap/1.0/",
      "APP13 Photoshop 3.0",
      "COM",
      "APP9 Vendor",
      "trailing bytes",
    ]);
    // Every metadata block exifr knows, but ICC (kept on purpose; this one is a stub it cannot parse).
    const everything = { tiff: true, exif: true, gps: true, interop: true, xmp: true, iptc: true, icc: false, jfif: false };
    expect(await exifr.parse(crafted, everything)).toMatchObject({ Make: CAMERA.Make, Model: CAMERA.Model });
    expect(await exifr.parse(out.bytes, everything)).toBeUndefined();
    for (const s of SECRETS) expect(includesBytes(out.bytes, s)).toBe(false);
    expect(includesBytes(out.bytes, ascii("PK\u0003\u0004"))).toBe(false);
    expect(includesBytes(out.bytes, icc)).toBe(true);
    expect(out.bytes.subarray(-2)).toEqual(new Uint8Array([0xff, 0xd9]));
    const [before, after] = [await decode(plain), await decode(out.bytes)];
    expect(after).toMatchObject({ format: "jpeg", width: 64, height: 64, exif: false, xmp: false, iptc: false, comments: [] });
    expect(after.rgba).toEqual(before.rgba);
  });

  it("keeps a clean output byte for byte", async () => {
    const plain = await fixture({ kind: "photo", format: "jpeg", width: 32, height: 16 });
    const out = cleanOutput(plain, { format: "jpeg", width: 32, height: 16 });
    expect(out.removed).toEqual([]);
    expect(out.bytes).toEqual(plain);
  });

  it("cuts a segment after the scan data (where a progressive JPEG has more segments)", async () => {
    const plain = await fixture({ kind: "photo", format: "jpeg", width: 64, height: 64 });
    // A COM segment before the final EOI, after the scan data.
    const crafted = concat(plain.subarray(0, -2), jpegSegment(0xfe, ascii(COMMENT)), plain.subarray(-2));
    const out = cleanOutput(crafted, { format: "jpeg", width: 64, height: 64 });
    expect(out.removed).toEqual(["COM"]);
    expect(out.bytes).toEqual(plain);
  });
});

describe("cleanOutput: WebP", () => {
  it("cuts EXIF and XMP chunks and their VP8X flags, unknown chunks and trailing bytes; keeps ICCP and alpha", async () => {
    const plain = await fixture({ kind: "solid", format: "webp", width: 48, height: 32, color: [10, 200, 30, 128] });
    expect(webpChunks(plain)).toEqual(["VP8X", "ALPH", "VP8 "]);
    const chunks: Uint8Array[] = [];
    for (let at = 12; at < plain.length; ) {
      const len = plain[at + 4] | (plain[at + 5] << 8) | (plain[at + 6] << 16);
      chunks.push(plain.subarray(at, at + 8 + len + (len & 1)));
      at += 8 + len + (len & 1);
    }
    const vp8x = chunks[0].slice();
    vp8x[8] |= 0x20 | 0x08 | 0x04; // ICC, EXIF, XMP
    const iccp = riffChunk("ICCP", new Uint8Array(40).fill(3));
    const exif = (await exifBlock()).subarray(6);
    const crafted = concat(
      riff(vp8x, iccp, chunks[1], chunks[2], riffChunk("EXIF", exif), riffChunk("XMP ", ascii(XMP)), riffChunk("ZZZZ", ascii(COMMENT))),
      ascii("<html>trailing</html>"),
    );
    const out = cleanOutput(crafted, { format: "webp", width: 48, height: 32 });
    expect(out.removed).toEqual(["trailing bytes", "EXIF", "XMP", "ZZZZ"]);
    expect(webpChunks(out.bytes)).toEqual(["VP8X", "ICCP", "ALPH", "VP8 "]);
    expect(out.bytes[20] & 0x0c).toBe(0); // VP8X flags: no EXIF, no XMP
    expect(out.bytes[20] & 0x30).toBe(0x30); // ICC and alpha still announced
    for (const s of SECRETS) expect(includesBytes(out.bytes, s)).toBe(false);
    expect(includesBytes(out.bytes, ascii("<html>"))).toBe(false);
    const after = await decode(out.bytes);
    expect(after).toMatchObject({ format: "webp", width: 48, height: 32, exif: false, xmp: false });
    expect(after.rgba).toEqual((await decode(plain)).rgba);
  });

  it("refuses an animated output", async () => {
    const anim = await fixture({ kind: "animated", format: "webp", size: 16 });
    expect(() => cleanOutput(anim, { format: "webp", width: 16, height: 16 })).toThrow(UnexpectedOutputError);
  });
});

describe("cleanOutput: not what was asked for", () => {
  it("refuses another format, another size, a truncated file and garbage", async () => {
    const jpeg = await fixture({ kind: "photo", format: "jpeg", width: 64, height: 48 });
    const webp = await fixture({ kind: "photo", format: "webp", width: 64, height: 48 });
    const cases: [Uint8Array, Parameters<typeof cleanOutput>[1]][] = [
      [jpeg, { format: "webp", width: 64, height: 48 }],
      [webp, { format: "jpeg", width: 64, height: 48 }],
      [jpeg, { format: "jpeg", width: 64, height: 64 }],
      [jpeg, { format: "jpeg", width: 62, height: 48, tolerance: 1 }],
      [webp.subarray(0, webp.length - 9), { format: "webp", width: 64, height: 48 }],
      [jpeg.subarray(0, jpeg.length - 30), { format: "jpeg", width: 64, height: 48 }],
      [ascii("<html>not an image</html>"), { format: "jpeg", width: 64, height: 48 }],
    ];
    for (const [bytes, expected] of cases)
      expect(() => cleanOutput(bytes, expected), JSON.stringify(expected)).toThrow(UnexpectedOutputError);
    // Within the tolerance of a fit's rounding.
    expect(cleanOutput(jpeg, { format: "jpeg", width: 63, height: 48, tolerance: 1 })).toMatchObject({ width: 64, height: 48 });
  });
});
