/**
 * Shared by the avatar tests: multipart uploads, the local bucket, the user's avatar column, and
 * the test images (made and read back by the Node-side image lab, image-lab.ts).
 */
import { expect, inject } from "vitest";
import { withDb } from "./db";
import { BLUE, type Decoded, type FixtureSpec, GREEN, RED, type Rgba, YELLOW } from "./image-spec";
import { concat } from "./images";
import { type CallOptions, call } from "./worker";

export function form(fields: Record<string, string | File>) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

export const file = (bytes: Uint8Array, name: string, type = "application/octet-stream") => new File([bytes], name, { type });

/** POST /auth/update-profile with an avatar only. */
export const upload = (token: string, avatar: File, opts: Omit<CallOptions, "body" | "token"> = {}) =>
  call("/auth/update-profile", { body: form({ avatar }), token, ...opts });

export const bucketBase = () => `${inject("s3Endpoint")}/${inject("s3Bucket")}/`;

/** Keys under a prefix, listed anonymously from the local S3 server, sorted. */
export async function listKeys(prefix: string): Promise<string[]> {
  const res = await fetch(`${inject("s3Endpoint")}/${inject("s3Bucket")}?prefix=${encodeURIComponent(prefix)}`);
  expect(res.status).toBe(200);
  return [...(await res.text()).matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]).sort();
}

/** Put an object straight into the local bucket (anonymous), as another tool would. */
export async function putObject(key: string, bytes: Uint8Array, type = "image/png") {
  const res = await fetch(`${bucketBase()}${key.split("/").map(encodeURIComponent).join("/")}`, {
    method: "PUT",
    body: bytes,
    headers: { "content-type": type },
  });
  expect(res.status).toBe(200);
}

/** The upload id (32 hex) of a key or URL in this service's pattern `.../<upload id>-<size>.<ext>`; throws for any other. */
export function uploadIdOf(key: string): string {
  const id = /\/([0-9a-f]{32})(?:-\d+)?\.[a-z]+$/.exec(key)?.[1];
  if (!id) throw new Error(`not an avatar key of this service: ${key}`);
  return id;
}

export const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

/** The name and avatar columns of a user. */
export const profileRow = (id: string) =>
  withDb(
    async (sql) => (await sql`select full_name, avatar from users where id = ${id}`)[0] as { full_name: string; avatar: string | null },
  );

export const setAvatar = (id: string, avatar: string | null) => withDb((sql) => sql`update users set avatar = ${avatar} where id = ${id}`);

/** A test image made by the image lab (sharp, in Node). */
export async function fixture(spec: FixtureSpec): Promise<Uint8Array> {
  const res = await fetch(`${inject("imageLab")}/fixture`, { method: "POST", body: JSON.stringify(spec) });
  if (!res.ok) throw new Error(`fixture ${JSON.stringify(spec)}: ${res.status} ${await res.text()}`);
  return bytesOf(res);
}

export interface Image extends Omit<Decoded, "rgba"> {
  rgba: Uint8Array;
}

/** A stored image read back by the image lab: its metadata as sharp sees it and its pixels as stored. */
export async function decode(bytes: Uint8Array): Promise<Image> {
  const res = await fetch(`${inject("imageLab")}/decode`, { method: "POST", body: bytes });
  if (!res.ok) throw new Error(`decode: ${res.status} ${await res.text()}`);
  const d = (await res.json()) as Decoded;
  return { ...d, rgba: Uint8Array.from(atob(d.rgba), (c) => c.charCodeAt(0)) };
}

const pixel = (img: Image, x: number, y: number) => Array.from(img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));

/** true, or what the pixel is instead (a readable failure). */
export function near(img: Image, x: number, y: number, c: Rgba, tolerance = 48): true | string {
  const got = pixel(img, x, y);
  return got.slice(0, 3).every((v, k) => Math.abs(v - c[k]) <= tolerance) ? true : `pixel (${x},${y}) is ${got}, expected about ${c}`;
}

/** The fixtures' upright picture: red, green / blue, yellow quadrants, seen at 20% and 80% across and down. */
export function expectUpright(img: Image) {
  const [a, b] = [Math.round(img.width * 0.2), Math.round(img.width * 0.8)];
  const [c, d] = [Math.round(img.height * 0.2), Math.round(img.height * 0.8)];
  expect(near(img, a, c, RED)).toBe(true);
  expect(near(img, b, c, GREEN)).toBe(true);
  expect(near(img, a, d, BLUE)).toBe(true);
  expect(near(img, b, d, YELLOW)).toBe(true);
}

export const ascii = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);

export { concat };

/** Contains `needle` as a byte sequence. */
export function includesBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A JPEG segment: marker, length, payload. */
export const jpegSegment = (marker: number, payload: Uint8Array) =>
  concat(new Uint8Array([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload);

/** The markers of a JPEG's segments up to its first scan (SOS). */
export function jpegMarkers(jpeg: Uint8Array): number[] {
  const markers: number[] = [];
  for (let at = 2; at + 4 <= jpeg.length; ) {
    const m = jpeg[at + 1];
    markers.push(m);
    if (m === 0xda) break;
    at += 2 + ((jpeg[at + 2] << 8) | jpeg[at + 3]);
  }
  return markers;
}

const le32 = (n: number) => new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);

/** A RIFF chunk (padded to an even length). */
export const riffChunk = (type: string, data: Uint8Array) =>
  concat(ascii(type), le32(data.length), data, data.length & 1 ? new Uint8Array(1) : new Uint8Array(0));

/** A WebP file of these chunks. */
export const riff = (...chunks: Uint8Array[]) => {
  const body = concat(ascii("WEBP"), ...chunks);
  return concat(ascii("RIFF"), le32(body.length), body);
};

/** The chunk types of a RIFF/WebP file. */
export function webpChunks(webp: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 12; at + 8 <= webp.length; ) {
    const len = webp[at + 4] | (webp[at + 5] << 8) | (webp[at + 6] << 16) | (webp[at + 7] << 24);
    out.push(String.fromCharCode(...webp.subarray(at, at + 4)));
    at += 8 + len + (len & 1);
  }
  return out;
}

export interface ImagesCalls {
  /** Images given to the binding (input() calls). */
  inputs: number;
}

/**
 * The Worker's own Images binding (miniflare's sharp-backed emulation) seen through a wrapper,
 * passed to one request as `env: { IMAGES }`: counts what reaches it and can change what it
 * answers, as the real service might (keep metadata, fail, hang). Test code only.
 */
export function imagesThrough(
  real: ImagesBinding,
  opts: { output?: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>; fail?: () => Promise<never> } = {},
): { binding: ImagesBinding; calls: ImagesCalls } {
  const calls: ImagesCalls = { inputs: 0 };
  const binding = {
    info: (stream: ReadableStream<Uint8Array>) => real.info(stream),
    input(stream: ReadableStream<Uint8Array>) {
      calls.inputs++;
      let t = real.input(stream);
      const wrapper = {
        transform(x: ImageTransform) {
          t = t.transform(x);
          return wrapper;
        },
        async output(o: ImageOutputOptions) {
          if (opts.fail) return opts.fail();
          const r = await t.output(o);
          const bytes = new Uint8Array(await new Response(r.image()).arrayBuffer());
          const out = opts.output ? await opts.output(bytes) : bytes;
          return { image: () => new Blob([out]).stream(), contentType: () => r.contentType(), response: () => new Response(out) };
        },
      };
      return wrapper;
    },
  };
  return { binding: binding as unknown as ImagesBinding, calls };
}
