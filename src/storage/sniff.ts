/**
 * Decide an image's type from its bytes, never from its name or declared type. Only complete
 * images pass: a zero-byte or truncated file (missing its end marker or with a chunk running
 * past the end) is refused. Returns null for anything that is not a PNG, JPEG or WebP.
 */
export interface ImageType {
  mime: "image/png" | "image/jpeg" | "image/webp";
  ext: "png" | "jpg" | "webp";
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const ascii = (b: Uint8Array, at: number, len: number) => String.fromCharCode(...b.subarray(at, at + len));
const u32be = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
const u32le = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;

/** PNG: signature, IHDR first (13 bytes), every chunk inside the file, IEND last and at the very end. */
function isPng(b: Uint8Array): boolean {
  if (b.length < 8 + 25 + 12) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== PNG_SIGNATURE[i]) return false;
  if (u32be(b, 8) !== 13 || ascii(b, 12, 4) !== "IHDR") return false;
  let at = 8;
  for (;;) {
    if (at + 12 > b.length) return false;
    const len = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    const end = at + 12 + len;
    if (end > b.length) return false;
    if (type === "IEND") return len === 0 && end === b.length;
    at = end;
  }
}

/** JPEG: SOI + a marker (FF D8 FF) at the start and EOI (FF D9) at the very end. */
function isJpeg(b: Uint8Array): boolean {
  return b.length >= 4 + 2 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}

/** WebP: RIFF container whose size field matches the file, form type WEBP, a VP8/VP8L/VP8X first chunk. */
function isWebp(b: Uint8Array): boolean {
  if (b.length < 20 || ascii(b, 0, 4) !== "RIFF" || ascii(b, 8, 4) !== "WEBP") return false;
  if (u32le(b, 4) + 8 !== b.length) return false;
  const chunk = ascii(b, 12, 4);
  if (chunk !== "VP8 " && chunk !== "VP8L" && chunk !== "VP8X") return false;
  return 20 + u32le(b, 16) <= b.length;
}

export function sniffImage(bytes: Uint8Array): ImageType | null {
  if (isPng(bytes)) return { mime: "image/png", ext: "png" };
  if (isJpeg(bytes)) return { mime: "image/jpeg", ext: "jpg" };
  if (isWebp(bytes)) return { mime: "image/webp", ext: "webp" };
  return null;
}
