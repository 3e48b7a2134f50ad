import { describeDetail, utc } from "../format";
import { t, word } from "../i18n";
import { href } from "../route";
import { TableRegion } from "./messages";

export interface AuditRow {
  id: number;
  at: string;
  event: string;
  outcome: string;
  user_id: string | null;
  user_email: string | null;
  actor_id: string | null;
  actor_email: string | null;
  detail: Record<string, string | number | boolean | null> | null;
}

/** Audit events: when, what, who acted (an administrator) and which account it is about. */
export function AuditTable({ events, caption }: { events: AuditRow[]; caption: string }) {
  if (events.length === 0) return <p>{t("audit.empty")}</p>;
  return (
    <TableRegion label={caption}>
      <table class="audit">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("audit.col.time")}</th>
            <th scope="col">{t("audit.col.event")}</th>
            <th scope="col">{t("audit.col.outcome")}</th>
            <th scope="col">{t("audit.col.actor")}</th>
            <th scope="col">{t("audit.col.subject")}</th>
            <th scope="col">{t("audit.col.details")}</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>
                <time dateTime={e.at}>{utc(e.at)}</time>
              </td>
              <td>{e.event}</td>
              <td>{word("outcome", e.outcome)}</td>
              <td>{e.actor_email ?? t("none")}</td>
              <td>{e.user_id && e.user_email ? <a href={href(`users/${e.user_id}`)}>{e.user_email}</a> : (e.user_email ?? t("none"))}</td>
              <td class="detail">{describeDetail(e.detail)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}
