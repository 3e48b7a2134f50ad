/**
 * The supported locales, declared once: a new locale is its catalog (src/i18n/catalogs/<code>.json)
 * plus one line here. `intl` is the tag Intl formats a mail's dates and times with; `clock` is how a
 * mail writes a clock time (Intl.DateTimeFormat options, in MAIL_TIME_ZONE). docs/languages.md.
 */
const LOCALES = {
  // Indian English, for the platform's readers: "17 May 2031", "7:35 pm IST".
  en: { intl: "en-IN", clock: { hour: "numeric", minute: "2-digit" } },
  // The day period in words ("शाम 7:35 बजे"): CLDR's short time "7:35 pm" reads badly in a Hindi sentence.
  hi: { intl: "hi-IN", clock: { hour: "numeric", minute: "2-digit", dayPeriod: "short" } },
} as const satisfies Record<string, { intl: string; clock: Intl.DateTimeFormatOptions }>;

export type Locale = keyof typeof LOCALES;
export const SUPPORTED_LOCALES = Object.keys(LOCALES) as [Locale, ...Locale[]];
/** Answers and mails when nothing else says which language: also the source catalog. */
export const DEFAULT_LOCALE: Locale = "en";

export const isLocale = (value: unknown): value is Locale => typeof value === "string" && Object.hasOwn(LOCALES, value);

export const localeFormats = (locale: Locale) => LOCALES[locale];

/** A language range of Accept-Language (RFC 4647 §2.1): letters, then subtags of letters and digits. */
const LANGUAGE_RANGE = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;
/** A qvalue (RFC 9110 §12.4.2), leniently: 0 to 1 with up to three decimals. */
const QVALUE = /^\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i;
/** Ranges looked at: a longer header is someone else's problem, not this isolate's CPU. */
const MAX_RANGES = 32;

/** The supported locale a language tag names: itself (`hi`), or its language (`hi-IN`, `HI-in` → `hi`). */
function matchLocale(tag: string): Locale | undefined {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    if (isLocale(canonical)) return canonical;
    const { language } = new Intl.Locale(canonical);
    return isLocale(language) ? language : undefined;
  } catch {
    return undefined; // not a well-formed tag
  }
}

/**
 * The supported locale an Accept-Language header prefers (RFC 9110 §12.5.4), or undefined when it
 * names none: every range in order of its q-value (ties in header order), `q=0` and `*` left out,
 * a malformed range or q-value skipped. `hi-IN,hi;q=0.9` → hi; `fr, hi;q=0.5` → hi; `fr-FR` → undefined.
 */
export function preferredLocale(header: string | null | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranges: { tag: string; q: number; at: number }[] = [];
  header.split(",", MAX_RANGES).forEach((part, at) => {
    const [tag, ...params] = part.split(";").map((s) => s.trim());
    if (!LANGUAGE_RANGE.test(tag)) return;
    let q = 1;
    for (const p of params) {
      const m = QVALUE.exec(p);
      if (!m) return;
      q = Number(m[1]);
    }
    if (q > 0) ranges.push({ tag, q, at });
  });
  ranges.sort((a, b) => b.q - a.q || a.at - b.at);
  for (const { tag } of ranges) {
    const locale = matchLocale(tag);
    if (locale) return locale;
  }
  return undefined;
}

/** The locale of an answer to a request with this Accept-Language: the preferred one, else DEFAULT_LOCALE. */
export const negotiateLocale = (header: string | null | undefined): Locale => preferredLocale(header) ?? DEFAULT_LOCALE;
