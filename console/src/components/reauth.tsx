import { useId, useRef, useState } from "preact/hooks";
import type { Admin } from "../api";
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
      if (second.admin.id !== admin.id) throw new Error("That is another account.");
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
    <Modal title="Confirm it's you" onClose={() => onDone(result.current)}>
      {(close) => (
        <form onSubmit={(e) => void submit(e, close)} noValidate>
          <p>This change needs a recent sign-in. Enter your password and a code to carry on; nothing else is lost.</p>
          {error && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
          <div class="field">
            <label for={ids.password}>Password</label>
            <input
              id={ids.password}
              type="password"
              autocomplete="current-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for={ids.code}>Code</label>
            <p id={ids.hint} class="hint">
              The 6-digit code from your authenticator app, or one of your recovery codes.
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
              Verify
            </button>
            <button type="button" onClick={close}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
