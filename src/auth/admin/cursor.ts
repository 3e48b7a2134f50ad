import { fieldError } from "../../errors";
import { msg } from "../../i18n/messages";
import { b64url, fromB64url, utf8 } from "../../lib/encoding";

/**
 * Keyset pagination for the admin lists: a page ends at a position (its last row's sort key and
 * id) and the next page starts strictly after it, so rows inserted between two requests never
 * shift, repeat or hide the rows of later pages (offsets would). The cursor is that position,
 * opaque to clients. `at` is the sort key as Postgres printed it (text keeps the microseconds a
 * JavaScript Date would drop).
 */
export interface Position {
  at: string;
  id: string;
}

const TIMESTAMP = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?([+-]\d\d(:\d\d)?|Z)$/;

export const encodeCursor = (p: Position) => b64url(utf8(JSON.stringify([p.at, p.id])));

/** The position of a cursor this API returned; anything else is 400 validation_failed on `cursor`. */
export function decodeCursor(cursor: string, id: RegExp): Position {
  try {
    const [at, rowId] = JSON.parse(new TextDecoder().decode(fromB64url(cursor)));
    if (typeof at === "string" && TIMESTAMP.test(at) && typeof rowId === "string" && id.test(rowId)) return { at, id: rowId };
  } catch {}
  throw fieldError("validation_failed", "cursor", msg("validation.cursor_invalid"));
}

/** Page sizes: LIST_DEFAULT unless asked; a larger ask is served LIST_MAX rows. */
export const LIST_DEFAULT = 20;
export const LIST_MAX = 100;
export const pageSize = (limit: number | undefined) => Math.min(LIST_MAX, Math.max(1, limit ?? LIST_DEFAULT));
