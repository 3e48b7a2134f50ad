import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { t } from "../i18n";

/**
 * A modal dialog: the native <dialog> (role=dialog, focus kept inside, Escape closes it, closing
 * gives the focus back to what opened it at once). `children` gets close(); `onClose` runs once it
 * closed, whichever way (close(), Escape).
 */
export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: (close: () => void) => ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  // What had the focus when the dialog was asked for (its first render).
  const opener = useRef(document.activeElement as HTMLElement | null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      if (dialog?.open) dialog.close();
    };
  }, []);
  const closed = () => {
    // The browser gives the focus back on close(); if what opened the dialog lost it meanwhile, here.
    if (document.activeElement === document.body && opener.current?.isConnected) opener.current.focus();
    onClose();
  };
  return (
    <dialog ref={ref} aria-labelledby={id} onClose={closed}>
      <h2 id={id}>{title}</h2>
      {children(() => ref.current?.close())}
    </dialog>
  );
}

export interface Confirmation {
  /** Tells one question from the next. */
  seq: number;
  /** Names the account, e.g. "Suspend ada@example.com?" */
  title: string;
  message: string;
  /** Ask for a reason (kept in the audit log). */
  reason?: "required";
  danger?: boolean;
  run: (reason: string | undefined) => void;
}

/** Asks before a change: Confirm runs it, Cancel or Escape does nothing; `onClose` runs once it closed. */
export function ConfirmDialog({ confirmation, onClose }: { confirmation: Confirmation; onClose: () => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState("");
  const reasonId = useId();
  const submit = (e: Event, close: () => void) => {
    e.preventDefault();
    if (confirmation.reason && !reason.trim()) {
      setError(t("confirm.reasonRequired"));
      return;
    }
    close();
    confirmation.run(confirmation.reason ? reason.trim() : undefined);
  };
  return (
    <Modal title={confirmation.title} onClose={onClose}>
      {(close) => (
        <form onSubmit={(e) => submit(e, close)} noValidate>
          <p>{confirmation.message}</p>
          {confirmation.reason && (
            <div class="field">
              <label for={reasonId}>{t("confirm.reason")}</label>
              <textarea
                id={reasonId}
                maxLength={500}
                rows={3}
                aria-required="true"
                value={reason}
                onInput={(e) => setReason(e.currentTarget.value)}
              />
            </div>
          )}
          {error && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="submit" class={confirmation.danger ? "danger" : "primary"}>
              {t("action.confirm")}
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
