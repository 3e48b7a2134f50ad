import type { ComponentChildren } from "preact";

export interface Flash {
  kind: "ok" | "error";
  text: string;
}

/**
 * The outcome of the last action: an error in role=alert (announced at once), a success in the
 * polite role=status region, which is always present so screen readers announce what appears in it.
 */
export function FlashMessage({ flash }: { flash: Flash | null }) {
  return (
    <>
      {flash?.kind === "error" && (
        <p role="alert" class="error">
          {flash.text}
        </p>
      )}
      <p role="status" class={flash?.kind === "ok" ? "ok" : "visually-hidden"}>
        {flash?.kind === "ok" ? flash.text : ""}
      </p>
    </>
  );
}

/** A table that scrolls sideways on narrow screens, reachable by keyboard. */
export function TableRegion({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be focusable to scroll it by keyboard
    <section class="table-region" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
