/**
 * Node side of the avatar tests (started by global-setup.ts; the tests themselves run in workerd,
 * where sharp cannot): makes the test images with sharp and reads stored avatars back.
 *
 *   POST /fixture  JSON FixtureSpec -> the image's bytes
 *   POST /decode   image bytes -> JSON Decoded (sharp's metadata and RGBA pixels, as stored:
 *                  no orientation applied)
 *
 * The pictures carry what phones put in them: EXIF with GPS position, camera make and model and
 * orientation, XMP, a comment. Loopback only.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import sharp, { type Sharp } from "sharp";
import { BLUE, CAMERA, COMMENT, type Decoded, type FixtureSpec, GREEN, RED, type Rgba, XMP, YELLOW } from "./image-spec";

const raw = (data: Buffer, width: number, height: number) => sharp(data, { raw: { width, height, channels: 4 } });

function quadrants(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const c = y < height / 2 ? (x < width / 2 ? RED : GREEN) : x < width / 2 ? BLUE : YELLOW;
      data.set(c, (y * width + x) * 4);
    }
  return data;
}

/** The rotation that makes the stored pixels of an upright picture for each orientation. */
const STORED_ROTATION = { 1: 0, 3: 180, 6: 270, 8: 90 } as const;

const jpegSegment = (marker: number, payload: Buffer) => {
  const head = Buffer.from([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  return Buffer.concat([head, payload]);
};
const pngChunk = (type: string, data: Buffer) => {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
};
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const be32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const ihdr = (w: number, h: number, bitDepth: number, colorType: number) =>
  pngChunk("IHDR", Buffer.concat([be32(w), be32(h), Buffer.from([bitDepth, colorType, 0, 0, 0])]));

async function encode(img: Sharp, format: "jpeg" | "png" | "webp") {
  if (format === "jpeg") return img.jpeg({ quality: 92 }).toBuffer();
  if (format === "webp") return img.webp({ quality: 90 }).toBuffer();
  return img.png().toBuffer();
}

async function photo(spec: Extract<FixtureSpec, { kind: "photo" }>): Promise<Buffer> {
  const orientation = spec.orientation ?? 1;
  const { data, info } = await raw(quadrants(spec.width, spec.height), spec.width, spec.height)
    .rotate(STORED_ROTATION[orientation])
    .raw()
    .toBuffer({ resolveWithObject: true });
  let img = raw(data, info.width, info.height);
  if (spec.metadata) {
    img = img
      .withExif({
        IFD0: CAMERA,
        IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 2400/100", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 700/100" },
      })
      .withXmp(XMP);
  }
  if (orientation !== 1 || spec.metadata) img = img.withMetadata({ orientation });
  const out = await encode(img, spec.format);
  if (!spec.metadata) return out;
  // A comment too, where the format has one (sharp writes none).
  if (spec.format === "jpeg") return Buffer.concat([out.subarray(0, 2), jpegSegment(0xfe, Buffer.from(COMMENT)), out.subarray(2)]);
  if (spec.format === "png")
    return Buffer.concat([out.subarray(0, 33), pngChunk("tEXt", Buffer.from(`Comment\0${COMMENT}`, "latin1")), out.subarray(33)]);
  return out;
}

async function solid(spec: Extract<FixtureSpec, { kind: "solid" }>) {
  const data = Buffer.alloc(spec.width * spec.height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(spec.color, i);
  return encode(raw(data, spec.width, spec.height), spec.format);
}

const filteredRows = (w: number, h: number, rgba: Rgba) => {
  const rows = Buffer.alloc(h * (1 + w * 4));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows.set(rgba, y * (1 + w * 4) + 1 + x * 4);
  return zlib.deflateSync(rows);
};

async function animated(spec: Extract<FixtureSpec, { kind: "animated" }>) {
  const n = spec.size;
  if (spec.format === "webp") {
    const frame = (c: Rgba) =>
      sharp({ create: { width: n, height: n, channels: 4, background: { r: c[0], g: c[1], b: c[2] } } })
        .png()
        .toBuffer();
    return sharp([await frame(RED), await frame(BLUE)], { join: { animated: true } })
      .webp({ loop: 0, delay: [100, 100] })
      .toBuffer();
  }
  // APNG (sharp writes none): the default image is frame one.
  const fctl = (seq: number) =>
    pngChunk("fcTL", Buffer.concat([be32(seq), be32(n), be32(n), be32(0), be32(0), Buffer.from([0, 1, 0, 10, 0, 0])]));
  return Buffer.concat([
    PNG_SIGNATURE,
    ihdr(n, n, 8, 6),
    pngChunk("acTL", Buffer.concat([be32(2), be32(0)])),
    fctl(0),
    pngChunk("IDAT", filteredRows(n, n, RED)),
    fctl(1),
    pngChunk("fdAT", Buffer.concat([be32(2), filteredRows(n, n, BLUE)])),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

function bomb(spec: Extract<FixtureSpec, { kind: "bomb" }>) {
  const stride = 1 + Math.ceil(spec.width / 8);
  return Buffer.concat([
    PNG_SIGNATURE,
    ihdr(spec.width, spec.height, 1, 0),
    pngChunk("IDAT", zlib.deflateSync(Buffer.alloc(stride * spec.height), { level: 9 })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

async function makeFixture(spec: FixtureSpec): Promise<Buffer> {
  switch (spec.kind) {
    case "photo":
      return photo(spec);
    case "solid":
      return solid(spec);
    case "animated":
      return animated(spec);
    case "bomb":
      return bomb(spec);
  }
}

/** JPEG COM segments and PNG tEXt/iTXt/zTXt chunks, which sharp's metadata does not list. */
function comments(b: Buffer): string[] {
  const out: string[] = [];
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let at = 2; at + 4 <= b.length && b[at] === 0xff && b[at + 1] !== 0xda; ) {
      const len = b.readUInt16BE(at + 2);
      if (b[at + 1] === 0xfe) out.push(b.subarray(at + 4, at + 2 + len).toString("latin1"));
      at += 2 + len;
    }
  } else if (b.subarray(0, 8).equals(PNG_SIGNATURE)) {
    for (let at = 8; at + 12 <= b.length; ) {
      const len = b.readUInt32BE(at);
      const type = b.subarray(at + 4, at + 8).toString("latin1");
      if (["tEXt", "iTXt", "zTXt"].includes(type)) out.push(b.subarray(at + 8, at + 8 + len).toString("latin1"));
      at += 12 + len;
    }
  }
  return out;
}

async function decode(bytes: Buffer): Promise<Decoded> {
  const md = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    format: md.format,
    width: info.width,
    height: info.height,
    orientation: md.orientation ?? null,
    pages: md.pages ?? 1,
    exif: Boolean(md.exif),
    xmp: Boolean(md.xmp),
    iptc: Boolean(md.iptc),
    comments: comments(bytes),
    rgba: data.toString("base64"),
  };
}

async function body(req: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export async function startImageLab(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    try {
      const input = await body(req);
      if (req.method === "POST" && req.url === "/fixture") {
        const out = await makeFixture(JSON.parse(input.toString("utf8")) as FixtureSpec);
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(out);
      } else if (req.method === "POST" && req.url === "/decode") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(await decode(input)));
      } else res.writeHead(404).end();
    } catch (err) {
      res.writeHead(422, { "content-type": "text/plain" }).end(String((err as Error)?.message ?? err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(() => r())) };
}
