import catalogs, { type MessageParams } from "./compiled/index.js";
import { DEFAULT_LOCALE, type Locale, localeFormats } from "./locales";

/**
 * Messages by key, in a locale: the catalogs (src/i18n/catalogs/<locale>.json, ICU MessageFormat)
 * compiled at build time into plain functions (scripts/build/i18n.ts). English is the source: its
 * keys and placeholders are the types here, and test/node/i18n.test.ts checks every other locale
 * against it. docs/languages.md.
 */
export type { MessageParams };
export type MessageKey = keyof MessageParams;
export type ParamsArg<K extends MessageKey> = MessageParams[K] extends undefined ? [] : [params: MessageParams[K]];

/** A message not yet rendered: a key and its parameters (errors carry one until the answer's locale is known). */
export type Message = {
  [K in MessageKey]: MessageParams[K] extends undefined ? { key: K; params?: undefined } : { key: K; params: MessageParams[K] };
}[MessageKey];

type Compiled = (params?: object) => string;

/** The message `key` in `locale` (English if that catalog lacks it, which the drift test forbids). */
export function t<K extends MessageKey>(locale: Locale, key: K, ...[params]: ParamsArg<K>): string {
  const fn = (catalogs[locale][key] ?? catalogs[DEFAULT_LOCALE][key]) as Compiled;
  return fn(params ?? {});
}

/** A message to render later. */
export const msg = <K extends MessageKey>(key: K, ...[params]: ParamsArg<K>): Message => ({ key, params }) as Message;

export const render = (locale: Locale, message: Message): string =>
  ((catalogs[locale][message.key] ?? catalogs[DEFAULT_LOCALE][message.key]) as Compiled)(message.params ?? {});

/** Whether a string is a key of the catalogs. */
export const isMessageKey = (key: string): key is MessageKey => Object.hasOwn(catalogs[DEFAULT_LOCALE], key);

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(locale: Locale, timeZone: string, kind: "clock" | "date" | "zone"): Intl.DateTimeFormat {
  const id = `${locale} ${timeZone} ${kind}`;
  let f = formatters.get(id);
  if (!f) {
    const { intl, clock } = localeFormats(locale);
    const options: Intl.DateTimeFormatOptions =
      kind === "clock"
        ? clock
        : kind === "date"
          ? { day: "numeric", month: "long", year: "numeric" }
          : { hour: "numeric", timeZoneName: "short" };
    f = new Intl.DateTimeFormat(intl, { ...options, timeZone });
    formatters.set(id, f);
  }
  return f;
}

/**
 * A moment as a mail states it, in `timeZone` (MAIL_TIME_ZONE): the clock time with the zone's
 * name, arranged by the catalog ("7:35 pm IST", "शाम 7:35 बजे (IST)"), and the date ("17 May 2031").
 * workerd's own zone is UTC, so the zone is always passed.
 */
export function mailMoment(locale: Locale, at: Date, timeZone: string): { time: string; date: string } {
  const zone = formatter(locale, timeZone, "zone")
    .formatToParts(at)
    .find((p) => p.type === "timeZoneName")?.value;
  const clock = formatter(locale, timeZone, "clock").format(at);
  return {
    time: zone ? t(locale, "time.clock", { time: clock, zone }) : clock,
    date: formatter(locale, timeZone, "date").format(at),
  };
}
