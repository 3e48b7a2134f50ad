/**
 * Cloudflare Images through its Workers binding (wrangler.toml `[images]`, env.IMAGES): it
 * decodes, applies the EXIF orientation, keeps the first frame of an animation, crops or fits,
 * resizes and re-encodes, outside the Worker's CPU and 128 MB memory. wrangler dev and the tests
 * emulate it locally with sharp (miniflare). Every call is bounded by IMAGES_TIMEOUT.
 */
import type { Config } from "../config";
import { apiError } from "../errors";
import { type Message, msg } from "../i18n/messages";
import { describeError, log } from "../log";
import type { OutputFormat } from "./image-output";

interface TransformRequest {
  width: number;
  height: number;
  /** cover: fill width x height, centre-cropped; contain: fit within, aspect kept. Both may enlarge. */
  fit: "cover" | "contain";
  format: OutputFormat;
  quality: number;
}

export interface AvatarImages {
  /** The transformed image's bytes. Throws 415 (the service cannot read the image) or 503. */
  transform(bytes: Uint8Array, t: TransformRequest): Promise<Uint8Array>;
}

export const processingUnavailable = (message?: Message) => apiError("image_processing_unavailable", { message, retryAfter: 5 });

/**
 * Error codes of Cloudflare Images that mean "this input cannot be read" (images/reference/
 * troubleshooting): 9412 not an image, 9520 unsupported format, 9523 could not transform (an
 * invalid image). Everything else (limits, timeouts, the service failing) is ours to retry.
 */
const UNREADABLE_INPUT = new Set([9412, 9520, 9523]);
/** 9413: the image exceeds the service's maximum area (our own, lower limit normally refuses it first). */
const TOO_LARGE_INPUT = 9413;

const MIME: Record<OutputFormat, "image/jpeg" | "image/webp"> = { jpeg: "image/jpeg", webp: "image/webp" };

/** Without the binding, avatar uploads answer 503 (name changes still work). */
function unconfigured(): AvatarImages {
  return {
    async transform() {
      log("error", "avatar processing is not configured: add an [images] binding named IMAGES to wrangler.toml");
      throw processingUnavailable(msg("error.image_processing_unavailable.off"));
    },
  };
}

async function withDeadline<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Cloudflare Images within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function createAvatarImages(binding: ImagesBinding | undefined, config: Config): AvatarImages {
  if (!binding) return unconfigured();
  const timeoutMs = config.IMAGES_TIMEOUT * 1000;
  return {
    async transform(bytes, t) {
      try {
        return await withDeadline(
          timeoutMs,
          (async () => {
            const result = await binding
              .input(new Blob([bytes]).stream())
              .transform({ width: t.width, height: t.height, fit: t.fit })
              // anim:false keeps the first frame of an animated upload.
              .output({ format: MIME[t.format], quality: t.quality, anim: false });
            return new Uint8Array(await new Response(result.image()).arrayBuffer());
          })(),
        );
      } catch (err) {
        const code = Number((err as { code?: unknown })?.code);
        if (UNREADABLE_INPUT.has(code)) {
          log("warn", "Cloudflare Images could not read an avatar", describeError(err));
          throw apiError("unsupported_image_type");
        }
        if (code === TOO_LARGE_INPUT) throw apiError("image_too_large_pixels");
        log("error", "Cloudflare Images failed", describeError(err));
        throw processingUnavailable();
      }
    },
  };
}
