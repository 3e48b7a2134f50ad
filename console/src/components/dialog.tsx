import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";

/**
 * A modal dialog (the native <dialog>: role=dialog, focus kept inside, Escape closes, focus goes
 * back to what opened it).
 */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      // Back to what opened it, if it is still there (an action may have replaced it).
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={id}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id={id}>{title}</h2>
      {children}
    </dialog>
  );
}

export interface Confirmation {
  /** Names the account, e.g. "Suspend ada@example.com?" */
  title: string;
  message: string;
  /** Ask for a reason (kept in the audit log). */
  reason?: "required";
  danger?: boolean;
  run: (reason: string | undefined) => void;
}

/** Asks before a change: Confirm runs it, Cancel or Escape does nothing. */
export function ConfirmDialog({ confirmation, onClose }: { confirmation: Confirmation; onClose: () => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState("");
  const reasonId = useId();
  const submit = (e: Event) => {
    e.preventDefault();
    if (confirmation.reason && !reason.trim()) {
      setError("Give a reason: it is kept in the audit log.");
      return;
    }
    onClose();
    confirmation.run(confirmation.reason ? reason.trim() : undefined);
  };
  return (
    <Modal title={confirmation.title} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <p>{confirmation.message}</p>
        {confirmation.reason && (
          <div class="field">
            <label for={reasonId}>Reason</label>
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
            Confirm
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}
