/** Small real images and byte helpers shared by the image and profile tests. */
// Small real images (2x2, made with sharp), padded to exact sizes in ways that keep them valid.
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
export const PNG = b64(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEklEQVQImWM4ISd3Qk6OAUIBAB8mBBGFRCvEAAAAAElFTkSuQmCC",
);
export const JPEG = b64(
  "/9j/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAACAAIDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAb/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABgf/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCAAHlhf//Z",
);
export const WEBP = b64("UklGRjoAAABXRUJQVlA4IC4AAACwAQCdASoCAAIAAUAmJaACdLoABDAAAP7x3I/4DdfFtMv/vYL/3YL/3YL/WwAA");

export const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The PNG with a private ancillary chunk ("paDd") before IEND, to exactly `size` bytes. */
export function pngOfSize(size: number) {
  const dataLen = size - PNG.length - 12;
  const chunk = new Uint8Array(12 + dataLen);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, dataLen);
  chunk.set([0x70, 0x61, 0x44, 0x64], 4); // "paDd"
  for (let i = 0; i < dataLen; i++) chunk[8 + i] = i & 0xff;
  view.setUint32(8 + dataLen, crc32(chunk.subarray(4, 8 + dataLen)));
  return concat(PNG.subarray(0, PNG.length - 12), chunk, PNG.subarray(PNG.length - 12));
}

/** The JPEG with comment (COM) segments after SOI, to exactly `size` bytes. */
export function jpegOfSize(size: number) {
  const segments: Uint8Array[] = [];
  let left = size - JPEG.length;
  while (left > 0) {
    let total = Math.min(left, 65537);
    if (left - total > 0 && left - total < 4) total -= 4;
    const seg = new Uint8Array(total).fill(0x41);
    seg.set([0xff, 0xfe, (total - 2) >> 8, (total - 2) & 0xff]);
    segments.push(seg);
    left -= total;
  }
  return concat(JPEG.subarray(0, 2), ...segments, JPEG.subarray(2));
}
