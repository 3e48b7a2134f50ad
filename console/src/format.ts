/** Times as operators compare them with logs: UTC, to the second. */
export function utc(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export const yesNo = (v: boolean) => (v ? "yes" : "no");

/** An audit event's detail as one line of `key: value` pairs (rendered as text). */
export function describeDetail(detail: Record<string, string | number | boolean | null> | null): string {
  if (!detail) return "";
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${v === null ? "–" : String(v)}`)
    .join(", ");
}
