/**
 * Bench-only Worker (bench/wrangler.image.toml), run by `npm run bench:image` under `wrangler dev`:
 * avatar processing as the app does it (src/storage/avatar-images.ts: header check, Cloudflare
 * Images binding per size, output check and metadata strip), without the database and S3, so
 * scripts/bench/bench-image.ts can time it from outside (CPU from /proc). Locally the binding's work
 * (decode, resize, encode) runs in sharp inside wrangler's Node process, not in workerd: the
 * script reports the two separately. Never deployed.
 *
 *   GET  /noop          baseline request
 *   POST /process?n=1   the body processed n times like an avatar upload; answers the output sizes
 *   POST /header?n=1    only the header check (no binding call)
 *   POST /send?to=URL   the body sent once as multipart to URL (the transport alone, for comparison:
 *                       the local binding ships the image to miniflare the same way)
 */
import { type Env, getConfig } from "../src/config";
import { log } from "../src/log";
import { makeAvatarVariants } from "../src/storage/avatar-images";
import { checkDimensions, readImageHeader } from "../src/storage/image";
import { createAvatarImages } from "../src/storage/images";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const n = Math.max(1, Math.min(20, Number(url.searchParams.get("n") ?? 1)));
    try {
      if (url.pathname === "/noop") return Response.json({ ok: true });
      const config = getConfig(env);
      const bytes = new Uint8Array(await request.arrayBuffer());
      if (url.pathname === "/header") {
        for (let i = 0; i < n; i++) {
          const h = readImageHeader(bytes);
          if (!h) throw new Error("not an image");
          checkDimensions(h, { maxPixels: config.AVATAR_MAX_PIXELS, maxSide: config.AVATAR_MAX_SIDE });
        }
        return Response.json({ ok: true, n });
      }
      if (url.pathname === "/send") {
        const fd = new FormData();
        fd.append("image", new File([bytes], "image"));
        const res = await fetch(url.searchParams.get("to") as string, { method: "POST", body: fd });
        await res.arrayBuffer();
        return Response.json({ ok: res.ok, n: 1 });
      }
      if (url.pathname === "/process") {
        const images = createAvatarImages(env.IMAGES, config);
        let sizes: number[] = [];
        for (let i = 0; i < n; i++) sizes = (await makeAvatarVariants(images, config, log, bytes)).map((v) => v.bytes.length);
        return Response.json({ ok: true, n, sizes });
      }
      return Response.json({ ok: false, error: "not found" }, { status: 404 });
    } catch (err) {
      return Response.json({ ok: false, error: String((err as Error)?.message ?? err) }, { status: 500 });
    }
  },
};
