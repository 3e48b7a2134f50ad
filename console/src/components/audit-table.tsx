import { describeDetail, utc } from "../format";
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
  if (events.length === 0) return <p>No events.</p>;
  return (
    <TableRegion label={caption}>
      <table class="audit">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Outcome</th>
            <th scope="col">Actor</th>
            <th scope="col">Subject</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>
                <time dateTime={e.at}>{utc(e.at)}</time>
              </td>
              <td>{e.event}</td>
              <td>{e.outcome}</td>
              <td>{e.actor_email ?? "–"}</td>
              <td>{e.user_id && e.user_email ? <a href={href(`users/${e.user_id}`)}>{e.user_email}</a> : (e.user_email ?? "–")}</td>
              <td class="detail">{describeDetail(e.detail)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}
