/**
 * An upload becomes the standard avatar sizes. Three layers, none of which decodes in the Worker:
 *   1. our header check refuses what is not a complete PNG/JPEG/WebP (415) or too large to decode
 *      (413 image_too_large_pixels) before Cloudflare Images sees a byte of it;
 *   2. Cloudflare Images decodes, turns upright, takes the first frame, crops/fits, resizes and
 *      re-encodes (nothing of the upload survives but its picture: a polyglot's payload is gone);
 *   3. its output must be a still image of the requested format and size, and any metadata in it
 *      is cut out (src/storage/image-output.ts) before it is stored.
 * The largest size is made from the upload, each smaller one from the size before it (a small
 * input: less to send, and as sharp at these ratios).
 */
import type { Config } from "../config";
import { apiError } from "../errors";
import { describeError } from "../log";
import { checkDimensions, readImageHeader, uprightSize } from "./image";
import { cleanOutput, type ExpectedOutput, type OutputFormat, UnexpectedOutputError } from "./image-output";
import { type AvatarImages, processingUnavailable } from "./images";

export interface AvatarVariant {
  size: number;
  width: number;
  height: number;
  bytes: Uint8Array;
  mime: "image/webp" | "image/jpeg";
  ext: "webp" | "jpg";
}

type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

/** Output size for one standard size: a square for cover; for contain, the long side is `size`. */
function target(w: number, h: number, size: number, fit: Config["AVATAR_FIT"]): Omit<ExpectedOutput, "format"> {
  if (fit === "cover") return { width: size, height: size };
  const scale = size / Math.max(w, h);
  // The service rounds the short side its own way: one pixel either side is accepted.
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)), tolerance: 1 };
}

export async function makeAvatarVariants(images: AvatarImages, config: Config, log: Log, upload: Uint8Array): Promise<AvatarVariant[]> {
  const header = readImageHeader(upload);
  if (!header) throw apiError("unsupported_image_type");
  checkDimensions(header, { maxPixels: config.AVATAR_MAX_PIXELS, maxSide: config.AVATAR_MAX_SIDE });

  const format: OutputFormat = config.AVATAR_FORMAT;
  const fit = config.AVATAR_FIT;
  const variants: AvatarVariant[] = [];
  let source = { bytes: upload, ...uprightSize(header) };
  for (const size of [...config.AVATAR_SIZES].sort((a, b) => b - a)) {
    const expected = { ...target(source.width, source.height, size, fit), format };
    const out = await images.transform(source.bytes, { width: size, height: size, fit, format, quality: config.AVATAR_QUALITY });
    let clean: ReturnType<typeof cleanOutput>;
    try {
      clean = cleanOutput(out, expected);
    } catch (err) {
      if (!(err instanceof UnexpectedOutputError)) throw err;
      log("error", "Cloudflare Images returned an unexpected avatar", { size, ...describeError(err) });
      throw processingUnavailable();
    }
    if (clean.removed.length) log("info", "metadata removed from a processed avatar", { size, removed: clean.removed });
    variants.push({
      size,
      width: clean.width,
      height: clean.height,
      bytes: clean.bytes,
      mime: format === "jpeg" ? "image/jpeg" : "image/webp",
      ext: format === "jpeg" ? "jpg" : "webp",
    });
    source = { bytes: clean.bytes, width: clean.width, height: clean.height };
  }
  // In the configured order: the first is the main size (`user.avatar`).
  return config.AVATAR_SIZES.map((size) => variants.find((v) => v.size === size) as AvatarVariant);
}
