import type { MailMessage } from "./mailer";
import { escapeHtml, htmlDocument, utcTime } from "./templates";

/**
 * To every active administrator when a webhook endpoint was disabled after a run of failed
 * deliveries. Names the endpoint by its id and origin only: its path may carry a token of the
 * receiver's.
 */
export function webhookDisabledMessage(input: {
  appName: string;
  to: string;
  webhookId: string;
  origin: string;
  failures: number;
  at: Date;
}): MailMessage {
  const { appName, webhookId, origin, failures } = input;
  const when = utcTime(input.at);
  const subject = `${appName}: a webhook endpoint was disabled`;
  const what = `The webhook endpoint ${webhookId} (${origin}) was disabled at ${when}: ${failures} deliveries in a row failed for good.`;
  const next =
    "Its events are not sent while it is disabled. Fix the receiver, then enable the endpoint again (PATCH /auth/admin/webhooks/{id} with enabled: true) and retry the failed deliveries you need (GET …/deliveries, POST …/deliveries/{id}/retry).";
  const text = [what, "", next].join("\n");
  const html = htmlDocument(subject, `<p>${escapeHtml(what)}</p>\n<p>${escapeHtml(next)}</p>`);
  return { to: input.to, subject, text, html, tag: "webhook_disabled" };
}
