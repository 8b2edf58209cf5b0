import type { ComponentChildren } from 'preact';
import { useAction } from '../hooks';
import { Dialog } from './dialog';
import { ErrorMessage } from './error-message';

export interface ConfirmDialogProps {
  readonly open: boolean;
  readonly title: string;
  /** The confirming button's name: the action itself ("Revoke", "Delete site"), never "OK". */
  readonly confirmLabel: string;
  readonly onConfirm: () => Promise<unknown>;
  readonly onClose: () => void;
  readonly danger?: boolean;
  readonly children?: ComponentChildren;
}

/**
 * Asks before an action; the action runs from the dialog, which stays open
 * with the refusal shown if the gateway says no. Focus starts on "Cancel",
 * so Enter never confirms a destructive action by accident.
 */
export function ConfirmDialog({ open, title, confirmLabel, onConfirm, onClose, danger, children }: ConfirmDialogProps) {
  const action = useAction(async () => {
    await onConfirm();
    onClose();
  });
  return (
    <Dialog open={open} title={title} onClose={() => { action.clearError(); onClose(); }} alert={danger}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        {children}
        <ErrorMessage error={action.error} />
        <div class="dialog-actions">
          <button type="button" autofocus onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class={danger ? 'danger' : 'primary'} aria-disabled={action.busy || undefined}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
