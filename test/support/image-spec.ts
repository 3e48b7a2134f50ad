/**
 * What the avatar tests and their Node-side image lab (image-lab.ts) share: the colours of the
 * test pictures, the metadata put in them, the fixture specs and the decoded form. No imports:
 * loaded both in workerd and in Node.
 */
export type Rgba = [number, number, number, number];
export const RED: Rgba = [230, 20, 20, 255];
export const GREEN: Rgba = [20, 200, 40, 255];
export const BLUE: Rgba = [20, 40, 220, 255];
export const YELLOW: Rgba = [240, 220, 20, 255];

export const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>`;
export const COMMENT = "secret comment: home address";
export const CAMERA = { Make: "TestPhone", Model: "Secret Model 9" };

export type FixtureSpec =
  /** Four quadrants (red, green / blue, yellow) as seen upright at width x height, stored so that
   *  the EXIF orientation (1, 3, 6 or 8) turns it upright; `metadata` adds EXIF GPS, XMP, comment. */
  | { kind: "photo"; format: "jpeg" | "png" | "webp"; width: number; height: number; orientation?: 1 | 3 | 6 | 8; metadata?: boolean }
  | { kind: "solid"; format: "jpeg" | "png" | "webp"; width: number; height: number; color: Rgba }
  /** Two frames: red, then blue. */
  | { kind: "animated"; format: "webp" | "png"; size: number }
  /** A complete, valid 1-bit grey PNG, all black: a few KB on disk, width x height once decoded. */
  | { kind: "bomb"; width: number; height: number };

export interface Decoded {
  format: string;
  width: number;
  height: number;
  orientation: number | null;
  pages: number;
  exif: boolean;
  xmp: boolean;
  iptc: boolean;
  comments: string[];
  /** RGBA, rows top to bottom, base64. */
  rgba: string;
}
