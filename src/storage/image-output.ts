/**
 * The last check before an avatar is stored: Cloudflare Images' output is parsed as a container
 * (JPEG segments, WebP RIFF chunks; no decoding) and must be a still image of the format and
 * size we asked for. Metadata it may carry is cut out at the container level: EXIF (GPS, camera,
 * orientation), XMP, IPTC, comments, unknown APPn segments and chunks, bytes after the end. So
 * "no EXIF/GPS/XMP in a stored avatar" does not depend on the service's metadata defaults (JPEG
 * output keeps the EXIF copyright tag by default). ICC colour profiles are kept: they say how to
 * show the pixels, nothing about the person.
 */
import { ascii, concat, le32, u16be, u32le } from "./bytes";
import { type ImageHeader, readImageHeader } from "./image";

export type OutputFormat = "jpeg" | "webp";

export interface ExpectedOutput {
  format: OutputFormat;
  width: number;
  height: number;
  /** Width and height may differ from the expected by this many px (rounding of a fit). */
  tolerance?: number;
}

export interface CleanOutput {
  bytes: Uint8Array;
  width: number;
  height: number;
  /** What was cut out ("APP1 Exif", "EXIF", "trailing bytes", ...), for the log. */
  removed: string[];
}

/** The output is not what was asked for: treated as a fault of the image service. */
export class UnexpectedOutputError extends Error {
  override name = "UnexpectedOutputError";
}

const fail = (why: string): never => {
  throw new UnexpectedOutputError(why);
};

/** APPn segments a decoder may need, by their identifier; every other APPn and COM goes. */
function keepAppSegment(marker: number, payload: Uint8Array): boolean {
  if (marker === 0xe0) return ascii(payload, 0, 5) === "JFIF\0";
  if (marker === 0xe2) return ascii(payload, 0, 12) === "ICC_PROFILE\0";
  if (marker === 0xee) return ascii(payload, 0, 5) === "Adobe"; // colour transform of the scan
  return false;
}

const appName = (marker: number, payload: Uint8Array) => {
  const id = ascii(payload, 0, Math.min(payload.length, 32))
    .split("\0")[0]
    .replace(/[^\x20-\x7e]/g, "");
  return marker === 0xfe ? "COM" : `APP${marker - 0xe0}${id ? ` ${id}` : ""}`;
};

/** Entropy-coded data runs until a marker that is not a stuffed byte (FF 00) or a restart (FF D0-D7). */
function endOfScan(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) {
    if (b[i] !== 0xff) continue;
    const next = b[i + 1];
    if (next === 0x00 || next === 0xff || (next >= 0xd0 && next <= 0xd7)) continue;
    return i;
  }
  return fail("JPEG scan without an end");
}

/** The JPEG without metadata segments and without anything after EOI. */
function stripJpeg(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  if (b[0] !== 0xff || b[1] !== 0xd8) fail("not a JPEG");
  const parts: Uint8Array[] = [b.subarray(0, 2)];
  const removed: string[] = [];
  let at = 2;
  for (;;) {
    if (at + 2 > b.length) fail("JPEG without EOI");
    if (b[at] !== 0xff) fail("JPEG segment without a marker");
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd9) {
      parts.push(b.subarray(at, at + 2));
      if (at + 2 < b.length) removed.push("trailing bytes");
      break;
    }
    if (at + 4 > b.length) fail("JPEG segment cut short");
    const end = at + 2 + u16be(b, at + 2);
    if (end > b.length || end < at + 4) fail("JPEG segment runs past the end");
    const payload = b.subarray(at + 4, end);
    const meta = (marker >= 0xe0 && marker <= 0xef) || marker === 0xfe;
    if (meta && !keepAppSegment(marker, payload)) removed.push(appName(marker, payload));
    else if (marker === 0xda) {
      // SOS: the header, then its entropy-coded data up to the next marker.
      const next = endOfScan(b, end);
      parts.push(b.subarray(at, next));
      at = next;
      continue;
    } else parts.push(b.subarray(at, end));
    at = end;
  }
  return { bytes: removed.length ? concat(parts) : b.subarray(0, at + 2), removed };
}

/** Chunks of a still WebP; metadata (EXIF, XMP) and unknown chunks go. */
const WEBP_KEEP = new Set(["VP8 ", "VP8L", "VP8X", "ALPH", "ICCP"]);
const VP8X_EXIF = 0x08;
const VP8X_XMP = 0x04;

/** The WebP without metadata chunks (and the VP8X flags that announced them). */
function stripWebp(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  if (ascii(b, 0, 4) !== "RIFF" || ascii(b, 8, 4) !== "WEBP") fail("not a WebP");
  const end = Math.min(b.length, 8 + u32le(b, 4));
  const chunks: Uint8Array[] = [];
  const removed: string[] = end < b.length ? ["trailing bytes"] : [];
  for (let at = 12; at < end; ) {
    if (at + 8 > end) fail("WebP chunk header cut short");
    const type = ascii(b, at, 4);
    const len = u32le(b, at + 4);
    const next = at + 8 + len + (len & 1);
    if (at + 8 + len > end) fail("WebP chunk runs past the end");
    if (type === "ANIM" || type === "ANMF") fail("animated WebP");
    if (!WEBP_KEEP.has(type)) removed.push(type.trim());
    else if (type === "VP8X") {
      const chunk = b.slice(at, at + 8 + len);
      chunk[8] &= ~(VP8X_EXIF | VP8X_XMP);
      chunks.push(chunk);
    } else chunks.push(b.subarray(at, Math.min(next, end)));
    at = next;
  }
  if (!removed.length) return { bytes: b.subarray(0, end), removed };
  const body = concat([new TextEncoder().encode("WEBP"), ...chunks]);
  return { bytes: concat([new TextEncoder().encode("RIFF"), le32(body.length), body]), removed };
}

/**
 * Check an image Cloudflare Images returned and strip its metadata. Throws
 * UnexpectedOutputError when it is not a complete still image of the expected format and size.
 */
export function cleanOutput(bytes: Uint8Array, expected: ExpectedOutput): CleanOutput {
  const stripped = expected.format === "jpeg" ? stripJpeg(bytes) : stripWebp(bytes);
  const header: ImageHeader | null = readImageHeader(stripped.bytes);
  if (!header) return fail(`not a complete ${expected.format}`);
  if (header.format !== expected.format) fail(`${header.format} instead of ${expected.format}`);
  if (header.animated) fail("animated output");
  const t = expected.tolerance ?? 0;
  if (Math.abs(header.width - expected.width) > t || Math.abs(header.height - expected.height) > t)
    fail(`${header.width}x${header.height} instead of ${expected.width}x${expected.height}`);
  return { bytes: stripped.bytes, width: header.width, height: header.height, removed: stripped.removed };
}
