import type { Locale } from "../../i18n/locales";
import { t } from "../../i18n/messages";
import { b64url, randomBytes } from "../../lib/encoding";
import { escapeHtml } from "../../mail/templates";

/**
 * Apple answers with `response_mode=form_post`: the browser POSTs the callback cross-site from
 * appleid.apple.com, and a SameSite=Lax cookie is not sent with a cross-site POST, so the flow's
 * browser binding (browser-binding.ts) cannot be checked on that request. Instead of weakening the
 * cookie to SameSite=None, the callback answers such a POST with this page, which posts the same
 * fields again to the same URL from this origin (a same-site POST, which carries the cookie), with
 * `same_site=1` added so that a second POST without the cookie is refused rather than looped.
 * Nothing is stored or consumed before the cookie is seen. (SAML and OIDC libraries do the same
 * for the same reason, e.g. Discourse's SAML plugin and ash_authentication; a 303 to a GET would
 * depend on how each browser treats redirect chains after a cross-site POST, and put the fields,
 * Apple's `user` JSON with name and email among them, in the URL.)
 *
 * The page runs one inline script, allowed by a per-response nonce in its own CSP; every field is
 * HTML-escaped; without script a button submits the form.
 */
export const RESUBMIT_MARKER = "same_site";

/** The callback fields echoed back, in this order; anything else the POST carried is dropped. */
const ECHOED = ["code", "state", "error", "error_description", "iss", "user"] as const;

export function resubmitPage(params: URLSearchParams, locale: Locale): { html: string; csp: string } {
  const nonce = b64url(randomBytes(16));
  const inputs = ECHOED.flatMap((name) => {
    const value = params.get(name);
    return value === null ? [] : [`<input type="hidden" name="${name}" value="${escapeHtml(value)}">`];
  });
  inputs.push(`<input type="hidden" name="${RESUBMIT_MARKER}" value="1">`);
  const html = `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${escapeHtml(t(locale, "page.resubmit.title"))}</title></head>
<body><form method="post">
${inputs.join("\n")}
<noscript><p>${escapeHtml(t(locale, "page.resubmit.title"))} <button type="submit">${escapeHtml(t(locale, "page.resubmit.continue"))}</button></p></noscript>
</form>
<script nonce="${nonce}">document.forms[0].submit();</script>
</body></html>`;
  const csp = `default-src 'none'; script-src 'nonce-${nonce}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
  return { html, csp };
}
