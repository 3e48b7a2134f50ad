import type { MailMessage } from "./mailer";
import { type Envelope, mailWriter } from "./templates";

/**
 * Notices about the Google and Apple identities linked to an account: each is a way in, so an
 * owner who did not link (or unlink) one learns at once. They name the provider and, when the
 * provider gave one, the identity's email; never a token.
 */
type IdentityNotice = { at: Date; provider: string; identityEmail: string | null };

/** "the Google account ada@gmail.com", or "a Google account" when the provider gave no email. */
const which = (w: ReturnType<typeof mailWriter>, { provider, identityEmail }: IdentityNotice) =>
  identityEmail
    ? w.say("mail.common.identity_named", { provider, email: identityEmail })
    : w.say("mail.common.identity_unnamed", { provider });

export function identityLinkedMessage(e: Envelope, input: IdentityNotice): MailMessage {
  const w = mailWriter(e);
  return w.mail(
    "identity_linked",
    [w.p("mail.identity_linked.body", { which: which(w, input), moment: w.moment(input.at) }), w.p("mail.identity_linked.take_back")],
    { provider: input.provider },
  );
}

export function identityUnlinkedMessage(e: Envelope, input: IdentityNotice): MailMessage {
  const w = mailWriter(e);
  return w.mail(
    "identity_unlinked",
    [w.p("mail.identity_unlinked.body", { which: which(w, input), moment: w.moment(input.at) }), w.p("mail.common.mfa_take_back")],
    { provider: input.provider },
  );
}
