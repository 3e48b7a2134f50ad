import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

/** A page's h1: names the document and takes focus when the page opens (keyboard and screen reader users start there). */
export function PageHeading({ title, children }: { title: string; children?: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Operators' console`;
    ref.current?.focus();
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children ?? title}
    </h1>
  );
}
