import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

let navigated = false;

/**
 * A page of the console: its `<h1>` and the document title. After a
 * navigation inside the console, focus moves to the new page's heading, so a
 * screen reader announces where the person is now (the first page load keeps
 * the browser's own focus).
 */
export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · verigate console`;
    if (navigated) heading.current?.focus();
    navigated = true;
  }, [title]);
  return (
    <>
      <div class="page-header">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {actions}
      </div>
      {children}
    </>
  );
}

/** A section of a page with its `<h2>`, labelled by it (a `region` landmark a person can jump to). */
export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-heading`;
  return (
    <section aria-labelledby={headingId} class="section">
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

/** Shown while a page's first answer is on its way. */
export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}
