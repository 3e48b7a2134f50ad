import { locale, t } from "./i18n";

/**
 * Times as operators compare them with logs: UTC, to the second, 24-hour, through
 * Intl.DateTimeFormat in the console's language. English keeps the logs' own order
 * (2026-05-14 10:03:09 UTC); another language writes the date its own way, the month in words (14 मई 2026, 10:03:09 UTC).
 */
const logTime = new Intl.DateTimeFormat(locale, {
  timeZone: "UTC",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const wordDate = new Intl.DateTimeFormat(locale, { timeZone: "UTC", year: "numeric", month: "long", day: "numeric" });

export function utc(iso: string | null | undefined): string {
  if (!iso) return t("none");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = Object.fromEntries(logTime.formatToParts(d).map((part) => [part.type, part.value]));
  const time = `${p.hour}:${p.minute}:${p.second}`;
  return locale === "en" ? `${p.year}-${p.month}-${p.day} ${time} UTC` : `${wordDate.format(d)}, ${time} UTC`;
}

export const yesNo = (v: boolean) => (v ? t("yes") : t("no"));
export const onOff = (v: boolean) => (v ? t("on") : t("off"));

/** "15 minutes", "1 hour 30 minutes" (in the console's language). */
export function describeDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  const parts = [h ? t("duration.hours", { count: h }) : "", m ? t("duration.minutes", { count: m }) : ""];
  return parts.filter(Boolean).join(" ") || t("duration.seconds", { count: seconds });
}

/** An audit event's detail as one line of `key: value` pairs (rendered as text; the API's own words). */
export function describeDetail(detail: Record<string, string | number | boolean | null> | null): string {
  if (!detail) return "";
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${v === null ? t("none") : String(v)}`)
    .join(", ");
}
