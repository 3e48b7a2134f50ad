import type { MailMessage } from "./mailer";
import { type Envelope, mailWriter } from "./templates";

/**
 * To every active administrator when a webhook endpoint was disabled after a run of failed
 * deliveries, in the administrator's language. Names the endpoint by its id and origin only: its
 * path may carry a token of the receiver's.
 */
export function webhookDisabledMessage(e: Envelope, input: { webhookId: string; origin: string; failures: number; at: Date }): MailMessage {
  const w = mailWriter(e);
  return w.mail("webhook_disabled", [
    w.p("mail.webhook_disabled.body", {
      webhook: input.webhookId,
      origin: input.origin,
      failures: input.failures,
      moment: w.moment(input.at),
    }),
    w.p("mail.webhook_disabled.next", { webhook: input.webhookId }),
  ]);
}
