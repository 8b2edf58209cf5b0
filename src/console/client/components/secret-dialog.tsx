import { useId } from 'preact/hooks';
import { CopyButton } from './copy-button';
import { Dialog } from './dialog';

export interface ShownSecret {
  readonly title: string;
  /** What the secret is, as the field's label: "API key", "Identity secret", … */
  readonly label: string;
  readonly value: string;
  /** A line under the value: what to do with it. */
  readonly note?: string;
  /** False for secrets that can be revealed again (the identity secret). */
  readonly once?: boolean;
}

/** A secret in a dialog with a "Copy" button; for a secret shown once, the dialog says so. */
export function SecretDialog({ secret, onClose }: { secret: ShownSecret | null; onClose: () => void }) {
  const inputId = useId();
  const noteId = useId();
  return (
    <Dialog open={secret !== null} title={secret?.title ?? ''} onClose={onClose}>
      {secret && (
        <div class="secret">
          <label for={inputId}>{secret.label}</label>
          <div class="secret-row">
            <input id={inputId} class="secret-value" readOnly value={secret.value} aria-describedby={noteId} spellcheck={false} />
            <CopyButton value={secret.value} fallbackInputId={inputId} />
          </div>
          <p id={noteId} class="note">
            {secret.once !== false ? 'This is the only time it is shown: copy it now and keep it somewhere safe. ' : ''}
            {secret.note ?? ''}
          </p>
          <div class="dialog-actions">
            <button type="button" class="primary" onClick={onClose}>
              Done
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}
