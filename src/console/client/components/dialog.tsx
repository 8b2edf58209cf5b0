import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

export interface DialogProps {
  readonly open: boolean;
  readonly title: string;
  /** Called when the dialog closes: Escape, a close button, or `open` turning false. */
  readonly onClose: () => void;
  readonly children: ComponentChildren;
  /** The `role="alertdialog"` flavour, for confirmations of destructive actions. */
  readonly alert?: boolean;
}

/** Who opened each open dialog, so a dialog opened from inside another hands focus back to the first opener. */
const openers = new WeakMap<HTMLDialogElement, HTMLElement | null>();

function openerOf(active: Element | null): HTMLElement | null {
  if (!(active instanceof HTMLElement)) return null;
  const parent = active.closest('dialog');
  return parent ? (openers.get(parent) ?? null) : active;
}

/**
 * A modal on the native `<dialog>`: `showModal()` makes the rest of the page
 * inert, moves focus into the dialog (to its first control, or the element
 * with `autofocus`), and Escape closes it; on close, focus goes back to the
 * control that opened it.
 */
export function Dialog({ open, title, onClose, children, alert }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const titleId = useId();
  const close = useRef(onClose);
  close.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = openerOf(document.activeElement);
      openers.set(dialog, opener.current);
      dialog.showModal();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const onNativeClose = () => {
      const back = opener.current;
      opener.current = null;
      openers.delete(dialog);
      // Another dialog still open (this one led to it) keeps the focus it has.
      if (!document.querySelector('dialog[open]')) {
        // The opener may have gone (its row re-rendered); then the page's heading takes focus.
        if (back && back.isConnected && back !== document.body) back.focus();
        else document.querySelector<HTMLElement>('main h1')?.focus();
      }
      close.current();
    };
    dialog.addEventListener('close', onNativeClose);
    return () => dialog.removeEventListener('close', onNativeClose);
  }, []);

  return (
    <dialog ref={ref} aria-labelledby={titleId} role={alert ? 'alertdialog' : undefined} class="dialog">
      <h2 id={titleId} class="dialog-title">
        {title}
      </h2>
      {open ? children : null}
    </dialog>
  );
}
