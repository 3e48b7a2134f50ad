import { useId, useState } from "preact/hooks";
import type { Admin } from "../api";
import { PageHeading } from "../components/heading";
import { t } from "../i18n";
import { codeStep, passwordStep, type Tokens } from "../sign-in";

/** Email and password, then a TOTP or recovery code. Errors and the reason a sign-in stops are in role=alert. */
export function SignInPage({ notice, onSignedIn }: { notice: string; onSignedIn: (admin: Admin, tokens: Tokens) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ids = { email: useId(), password: useId(), code: useId(), hint: useId() };

  const attempt = async (work: () => Promise<void>) => {
    setBusy(true);
    setError("");
    try {
      await work();
    } catch (err) {
      setError((err as Error).message);
      if ((err as { code?: string }).code === "mfa_token_invalid") setMfaToken(null);
    } finally {
      setBusy(false);
    }
  };

  const submitPassword = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      const step = await passwordStep(email.trim(), password);
      setPassword("");
      if (step.kind === "stopped") setError(step.reason);
      else setMfaToken(step.mfaToken);
    });
  };

  const submitCode = (e: Event) => {
    e.preventDefault();
    if (!mfaToken) return;
    void attempt(async () => {
      const step = await codeStep(mfaToken, code);
      setCode("");
      if (step.kind === "stopped") {
        setMfaToken(null);
        setError(step.reason);
      } else onSignedIn(step.admin, step.tokens);
    });
  };

  return (
    <main id="main" class="sign-in">
      <PageHeading title={t("signIn.title")}>{t("signIn.heading")}</PageHeading>
      {notice && (
        <p role="status" class="ok">
          {notice}
        </p>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {mfaToken === null ? (
        <form onSubmit={submitPassword} noValidate>
          <div class="field">
            <label for={ids.email}>{t("field.email")}</label>
            <input
              id={ids.email}
              type="email"
              autocomplete="username"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for={ids.password}>{t("field.password")}</label>
            <input
              id={ids.password}
              type="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </div>
          <button type="submit" class="primary" disabled={busy}>
            {t("signIn.submit")}
          </button>
        </form>
      ) : (
        <form onSubmit={submitCode} noValidate>
          <div class="field">
            <label for={ids.code}>{t("field.code")}</label>
            <p id={ids.hint} class="hint">
              {t("field.codeHint")}
            </p>
            <input
              id={ids.code}
              type="text"
              autocomplete="one-time-code"
              autocapitalize="off"
              spellcheck={false}
              required
              aria-describedby={ids.hint}
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
              // biome-ignore lint/a11y/noAutofocus: the code step replaces the password form; its one field is where to type
              autoFocus
            />
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {t("action.verify")}
            </button>
            <button type="button" onClick={() => setMfaToken(null)}>
              {t("signIn.startAgain")}
            </button>
          </div>
        </form>
      )}
    </main>
  );
}
