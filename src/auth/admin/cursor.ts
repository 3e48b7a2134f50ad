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

/** A timestamptz as Postgres prints it (ISO DateStyle): `2026-01-05 09:30:00.123456+00`. */
const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d{1,6})?(?:([+-])(\d\d)(?::(\d\d))?|Z)$/;

/**
 * A timestamp Postgres can read back: every field within its range (month 1-12, the month's own
 * days, 00:00:00-23:59:59, an offset within ±15:59). The pattern alone would let `2026-13-45`
 * through to the cast, which fails the statement (a 500 instead of a 400).
 */
function isTimestamp(at: string): boolean {
  const m = TIMESTAMP.exec(at);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 15 &&
    offsetMinutes <= 59
  );
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** The id of a users row: a UUID as Postgres prints it (lower case). */
export const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
/** The id of an audit row: a positive bigint. */
export const isBigintId = (id: string) => /^\d{1,19}$/.test(id) && BigInt(id) <= 9_223_372_036_854_775_807n;

export const encodeCursor = (p: Position) => b64url(utf8(JSON.stringify([p.at, p.id])));

/**
 * The position of a cursor this API returned. Anything else (not base64url, not JSON, not a pair
 * of strings, an impossible time, an id of the wrong kind or out of range) is 400
 * validation_failed on `cursor`, before any statement runs.
 */
export function decodeCursor(cursor: string, isId: (id: string) => boolean): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromB64url(cursor)));
  } catch {}
  if (Array.isArray(parsed) && parsed.length === 2) {
    const [at, id] = parsed;
    if (typeof at === "string" && isTimestamp(at) && typeof id === "string" && isId(id)) return { at, id };
  }
  throw fieldError("validation_failed", "cursor", msg("validation.cursor_invalid"));
}

/** Page sizes: LIST_DEFAULT unless asked; a larger ask is served LIST_MAX rows. */
export const LIST_DEFAULT = 20;
export const LIST_MAX = 100;
export const pageSize = (limit: number | undefined) => Math.min(LIST_MAX, Math.max(1, limit ?? LIST_DEFAULT));
