import { type Admin, ApiError, anonymous, endSession, read } from "./api";
import { t } from "./i18n";

/**
 * Signing in to the console: the password (POST /auth/login), then the second factor
 * (POST /auth/mfa/verify). Only an administrator whose session proved a second factor goes on;
 * anyone else is stopped with the reason, and the session the login started is ended.
 */

export interface Tokens {
  access: string;
  refresh: string;
}

export type FirstStep = { kind: "mfa"; mfaToken: string } | { kind: "stopped"; reason: string };

/** The password step. An account that gets a session without a second factor is stopped here. */
export async function passwordStep(email: string, password: string): Promise<FirstStep> {
  const body = await read(anonymous.auth.login.$post({ json: { email, password } }));
  if (body.status === "mfa_required") return { kind: "mfa", mfaToken: body.mfa_token };
  if (body.status === "success") {
    await endSession(body.access_token);
    return { kind: "stopped", reason: body.user.role === "admin" ? t("error.noSecondFactor") : t("error.notAdmin") };
  }
  throw new ApiError(500, "unexpected", t("error.unexpected"));
}

/** A 6-digit TOTP code, or else a recovery code. */
function codeBody(mfaToken: string, typed: string) {
  const code = typed.replace(/\s+/g, "");
  return /^\d{6}$/.test(code) ? { mfa_token: mfaToken, code } : { mfa_token: mfaToken, recovery_code: typed.trim() };
}

export type SecondStep = { kind: "signed-in"; admin: Admin; tokens: Tokens } | { kind: "stopped"; reason: string };

/** The second-factor step: a session, if the account is an administrator. */
export async function codeStep(mfaToken: string, typed: string): Promise<SecondStep> {
  const body = await read(anonymous.auth.mfa.verify.$post({ json: codeBody(mfaToken, typed) }));
  if (body.user.role !== "admin") {
    await endSession(body.access_token);
    return { kind: "stopped", reason: t("error.notAdmin") };
  }
  const { id, email, full_name, role } = body.user;
  return { kind: "signed-in", admin: { id, email, full_name, role }, tokens: { access: body.access_token, refresh: body.refresh_token } };
}
