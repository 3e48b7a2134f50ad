import type { Catalog, HolesOf, Key } from "./catalog";
import { en } from "./en";

/**
 * The console's language: the first of the browser's languages (navigator.languages) the console has,
 * by its primary subtag (hi-IN is hi), else English. A third language is one catalog file and one
 * line here. English is in the main bundle; another language's catalog is a chunk of its own, loaded
 * before the first render (top-level await) by the browsers that ask for it.
 * Messages take {name} placeholders; a message with forms per number picks one with Intl.PluralRules
 * from its `count`.
 */
const CATALOGS: Record<string, () => Promise<Catalog>> = {
  en: async () => en,
  hi: async () => (await import("./hi")).hi,
};

function pickLocale(languages: readonly string[]): string {
  for (const tag of languages) {
    const base = tag.toLowerCase().split("-")[0];
    if (Object.hasOwn(CATALOGS, base)) return base;
  }
  return "en";
}

export const locale = pickLocale(navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"]);
const messages: Catalog = await CATALOGS[locale]();
const plurals = new Intl.PluralRules(locale);
const numbers = new Intl.NumberFormat(locale);

type Params<K extends Key> = [HolesOf<K>] extends [never] ? [] : [params: Record<HolesOf<K>, string | number>];

/** The message `key` in the console's language, its placeholders filled in. */
export function t<K extends Key>(key: K, ...[params]: Params<K>): string {
  const message = messages[key];
  const values = (params ?? {}) as Record<string, string | number>;
  let text: string;
  if (typeof message === "string") text = message;
  else {
    const n = Number(values.count);
    text = (n === 0 && message["=0"]) || message[plurals.select(n)] || message.other;
  }
  return text.replace(/\{(\w+)\}/g, (hole, name: string) => {
    const v = values[name];
    return v === undefined ? hole : typeof v === "number" ? numbers.format(v) : v;
  });
}

/** A value of the API (a role, a status, an outcome) in words, when the catalog has them; else as the API spells it. */
export function word(prefix: "role" | "status" | "factor" | "outcome", value: string): string {
  const key = `${prefix}.${value}`;
  return Object.hasOwn(messages, key) ? (messages[key as Key] as string) : value;
}
