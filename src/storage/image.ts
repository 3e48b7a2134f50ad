/**
 * What an avatar's header says, read without decoding a pixel: format, dimensions, EXIF
 * orientation and animation. Used twice: on the upload, to refuse what is too large before any
 * decoder sees it, and on what Cloudflare Images returns, to check it is the image we asked for.
 */
import { apiError } from "../errors";
import { msg } from "../i18n/messages";
import { ascii, u16be, u16le, u24le, u32be, u32le } from "./bytes";
import { sniffImage } from "./sniff";

type ImageFormat = "png" | "jpeg" | "webp";

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation 1-8 (1 when absent or unreadable). */
  orientation: number;
  /** An animated PNG (acTL) or WebP (VP8X animation flag). */
  animated: boolean;
}

export interface PixelLimits {
  maxPixels: number;
  maxSide: number;
}

/** 40000000 -> 40 megapixels, 255 -> 255 pixels. */
const pixels = (n: number) => (n % 1_000_000 === 0 ? { unit: "mega", count: n / 1_000_000 } : { unit: "one", count: n });

const imageTooLarge = (s: PixelLimits) =>
  apiError("image_too_large_pixels", { message: msg("error.image_too_large_pixels.limits", { side: s.maxSide, ...pixels(s.maxPixels) }) });

/** Orientation (tag 0x0112) from IFD0 of a TIFF structure (EXIF payload); 1 if absent or malformed. */
function exifOrientation(t: Uint8Array): number {
  if (t.length < 8) return 1;
  const order = ascii(t, 0, 2);
  if (order !== "II" && order !== "MM") return 1;
  const le = order === "II";
  const u16 = (at: number) => (le ? u16le(t, at) : u16be(t, at));
  const u32 = (at: number) => (le ? u32le(t, at) : u32be(t, at));
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return 1;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return u16(e + 2) === 3 && v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** An EXIF block as stored in WebP/PNG: bare TIFF, sometimes behind a JPEG-style "Exif\0\0". */
const tiffOf = (b: Uint8Array) => (ascii(b, 0, 6) === "Exif\0\0" ? b.subarray(6) : b);

function pngHeader(b: Uint8Array): ImageHeader | null {
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  let orientation = 1;
  let animated = false;
  for (let at = 8; at + 12 <= b.length; ) {
    const len = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    if (at + 12 + len > b.length) return null;
    if (type === "acTL") animated = true;
    else if (type === "eXIf") orientation = exifOrientation(tiffOf(b.subarray(at + 8, at + 8 + len)));
    else if (type === "IEND") break;
    at += 12 + len;
  }
  if (!width || !height) return null;
  return { format: "png", width, height, orientation, animated };
}

/** SOFn markers that carry the frame size: C0-C3, C5-C7, C9-CB, CD-CF (not C4 DHT, C8 JPG, CC DAC). */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Walks the marker segments up to the first scan (SOS): the first SOFn gives the size. */
function jpegHeader(b: Uint8Array): ImageHeader | null {
  let size: { width: number; height: number } | null = null;
  let orientation = 1;
  let exifSeen = false;
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0xd9 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) return null;
    const len = u16be(b, at + 2);
    if (len < 2 || at + 2 + len > b.length) return null;
    const seg = b.subarray(at + 4, at + 2 + len);
    if (marker === 0xda) break; // SOS: entropy-coded data follows
    if (isSof(marker) && !size) {
      if (seg.length < 6) return null;
      size = { height: u16be(seg, 1), width: u16be(seg, 3) };
    } else if (marker === 0xe1 && !exifSeen && ascii(seg, 0, 6) === "Exif\0\0") {
      exifSeen = true;
      orientation = exifOrientation(seg.subarray(6));
    }
    at += 2 + len;
  }
  // Height 0 means "given later by a DNL marker": not something an avatar needs.
  if (!size || size.width === 0 || size.height === 0) return null;
  return { format: "jpeg", ...size, orientation, animated: false };
}

/** Size of a VP8 (lossy) or VP8L (lossless) bitstream chunk's payload. */
function vp8Size(type: string, p: Uint8Array): { width: number; height: number } | null {
  if (type === "VP8 ") {
    // frame tag (3 bytes, bit 0 clear on a key frame), start code 9d 01 2a, then 14-bit sizes
    if (p.length < 10 || p[0] & 1 || p[3] !== 0x9d || p[4] !== 0x01 || p[5] !== 0x2a) return null;
    return { width: u16le(p, 6) & 0x3fff, height: u16le(p, 8) & 0x3fff };
  }
  if (type === "VP8L") {
    if (p.length < 5 || p[0] !== 0x2f) return null;
    const bits = u32le(p, 1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  return null;
}

/** Inside an ANMF payload (16-byte frame header first): the frame's VP8/VP8L chunk. */
function firstFrameBitstream(frame: Uint8Array): { type: string; data: Uint8Array } | null {
  for (let at = 16; at + 8 <= frame.length; ) {
    const type = ascii(frame, at, 4);
    const len = u32le(frame, at + 4);
    const data = frame.subarray(at + 8, at + 8 + len);
    if (data.length !== len) return null;
    if (type === "VP8 " || type === "VP8L") return { type, data };
    at += 8 + len + (len & 1);
  }
  return null;
}

function webpHeader(b: Uint8Array): ImageHeader | null {
  let canvas: { width: number; height: number } | null = null;
  let bitstream: { width: number; height: number } | null = null;
  let orientation = 1;
  let animated = false;
  for (let at = 12; at + 8 <= b.length; ) {
    const type = ascii(b, at, 4);
    const len = u32le(b, at + 4);
    const payload = b.subarray(at + 8, at + 8 + len);
    if (payload.length !== len) return null;
    if (type === "VP8X") {
      if (len < 10) return null;
      animated = (payload[0] & 0x02) !== 0;
      canvas = { width: u24le(payload, 4) + 1, height: u24le(payload, 7) + 1 };
    } else if (type === "EXIF") orientation = exifOrientation(tiffOf(payload));
    else if (type === "ANMF" && !bitstream) {
      const inner = firstFrameBitstream(payload);
      if (!inner) return null;
      bitstream = vp8Size(inner.type, inner.data);
    } else if ((type === "VP8 " || type === "VP8L") && !bitstream) bitstream = vp8Size(type, payload);
    at += 8 + len + (len & 1);
  }
  if (!bitstream) return null;
  // The limit holds for the larger of the canvas and the bitstream, whatever a decoder trusts.
  const width = Math.max(bitstream.width, canvas?.width ?? 0);
  const height = Math.max(bitstream.height, canvas?.height ?? 0);
  if (!width || !height) return null;
  return { format: "webp", width, height, orientation, animated };
}

/**
 * Format, size, orientation and animation from the header only (no pixel is decoded); null when
 * the bytes are not a complete PNG, JPEG or WebP (src/storage/sniff.ts) or the header is malformed.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  const type = sniffImage(bytes);
  if (!type) return null;
  if (type.ext === "png") return pngHeader(bytes);
  if (type.ext === "jpg") return jpegHeader(bytes);
  return webpHeader(bytes);
}

/** Refuse, from the header, what is too large to decode. */
export function checkDimensions(h: Pick<ImageHeader, "width" | "height">, s: PixelLimits) {
  if (h.width > s.maxSide || h.height > s.maxSide || h.width * h.height > s.maxPixels) throw imageTooLarge(s);
}

/** The size as seen once EXIF orientation is applied: 5-8 turn the picture by 90°. */
export const uprightSize = (h: ImageHeader) =>
  h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height };
