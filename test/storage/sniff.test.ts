import { describe, expect, it } from "vitest";
import { sniffImage } from "../../src/storage/sniff";
import { concat, JPEG, jpegOfSize, PNG, pngOfSize, WEBP } from "../support/images";

// Small real images (2x2, made with sharp), padded to exact sizes in ways that keep them valid.
describe("sniffImage", () => {
  it("recognises complete PNG, JPEG and WebP, and refuses truncated or foreign bytes", () => {
    expect(sniffImage(PNG)).toEqual({ mime: "image/png", ext: "png" });
    expect(sniffImage(pngOfSize(10_000))).toEqual({ mime: "image/png", ext: "png" });
    expect(sniffImage(JPEG)).toEqual({ mime: "image/jpeg", ext: "jpg" });
    expect(sniffImage(jpegOfSize(200_000))).toEqual({ mime: "image/jpeg", ext: "jpg" });
    expect(sniffImage(WEBP)).toEqual({ mime: "image/webp", ext: "webp" });
    expect(sniffImage(new Uint8Array(0))).toBeNull();
    expect(sniffImage(PNG.subarray(0, 40))).toBeNull();
    expect(sniffImage(concat(PNG, new Uint8Array([0])))).toBeNull();
    expect(sniffImage(WEBP.subarray(0, WEBP.length - 1))).toBeNull();
    expect(sniffImage(new TextEncoder().encode("GIF89a........"))).toBeNull();
    expect(sniffImage(new TextEncoder().encode(`<svg xmlns="http://www.w3.org/2000/svg"/>`))).toBeNull();
  });
});
