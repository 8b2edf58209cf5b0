import type { ComponentChildren } from 'preact';

/**
 * The one-line form under a table ("Create API key", "Grant product", …):
 * submitting runs `onSubmit` instead of navigating; its fields and button
 * are the children.
 */
export function InlineForm({ onSubmit, children }: { onSubmit: () => unknown; children: ComponentChildren }) {
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        void onSubmit();
      }}
    >
      {children}
    </form>
  );
}
