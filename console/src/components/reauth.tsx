import { useId, useRef, useState } from "preact/hooks";
import type { Admin } from "../api";
import { t } from "../i18n";
import { codeStep, passwordStep, type Tokens } from "../sign-in";
import { Modal } from "./dialog";

/**
 * A change needs a recent sign-in (403 recent_login_required): the administrator signs in again
 * here, with the password and a code, without leaving the page; the change is then retried.
 */
export function ReauthDialog({ admin, onDone }: { admin: Admin; onDone: (tokens: Tokens | null) => void }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const ids = { password: useId(), code: useId(), hint: useId() };
  /** What the dialog answers when it closes: the new tokens, or null (Cancel, Escape). */
  const result = useRef<Tokens | null>(null);

  const submit = async (e: Event, close: () => void) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const first = await passwordStep(admin.email, password);
      if (first.kind === "stopped") throw new Error(first.reason);
      const second = await codeStep(first.mfaToken, code);
      if (second.kind === "stopped") throw new Error(second.reason);
      if (second.admin.id !== admin.id) throw new Error(t("error.otherAccount"));
      result.current = second.tokens;
      close();
    } catch (err) {
      setError((err as Error).message);
      setCode("");
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t("reauth.title")} onClose={() => onDone(result.current)}>
      {(close) => (
        <form onSubmit={(e) => void submit(e, close)} noValidate>
          <p>{t("reauth.intro")}</p>
          {error && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
          <div class="field">
            <label for={ids.password}>{t("field.password")}</label>
            <input
              id={ids.password}
              type="password"
              autocomplete="current-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </div>
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
              aria-describedby={ids.hint}
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </div>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {t("action.verify")}
            </button>
            <button type="button" onClick={close}>
              {t("action.cancel")}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
