import { useState } from 'preact/hooks';
import { api, envPath } from '../api';
import { useAction } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { Environment, IdentitySecrets } from '../wire';
import { formatInstant } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { Section } from '../components/page';
import { SecretDialog, type ShownSecret } from '../components/secret-dialog';

export function IdentitySecretSection({ env, siteId }: { env: Environment; siteId: string }) {
  const { principal } = useConsole();
  const [shown, setShown] = useState<ShownSecret | null>(null);
  const [rotating, setRotating] = useState(false);
  const [grace, setGrace] = useState('0');
  const writable = canWrite(principal);

  const reveal = useAction(async () => {
    const secrets = await api.get<IdentitySecrets>(envPath(env, 'sites', siteId, 'security'));
    setShown({
      title: 'Identity secret',
      label: 'Identity secret',
      value: secrets.identitySecret,
      once: false,
      note: graceNote(secrets),
    });
  });

  return (
    <Section title="Identity secret">
      <p class="hint">
        Your backend signs identity tokens (HS256) with this secret to sign visitors in. Keep it on the server
        (<code>VERIGATE_IDENTITY_SECRET</code>).
      </p>
      <div class="button-row">
        <button type="button" onClick={() => void reveal.run()} aria-disabled={reveal.busy || undefined}>
          Reveal identity secret
        </button>
        {writable && (
          <button type="button" class="danger" onClick={() => setRotating(true)}>
            Rotate identity secret
          </button>
        )}
      </div>
      <ErrorMessage error={reveal.error} />
      <ConfirmDialog
        open={rotating}
        title="Rotate the identity secret?"
        confirmLabel="Rotate identity secret"
        danger
        onClose={() => setRotating(false)}
        onConfirm={async () => {
          const secrets = await api.post<IdentitySecrets>(envPath(env, 'sites', siteId, 'security', 'rotate-identity-secret'), {
            graceSeconds: Number(grace),
          });
          setShown({
            title: 'Identity secret rotated',
            label: 'New identity secret',
            value: secrets.identitySecret,
            once: false,
            note: graceNote(secrets),
          });
        }}
      >
        <p>A new secret signs identity tokens from now on. Without a grace period, tokens signed with the old one fail at once.</p>
        <label for="rotate-grace">The old secret keeps working for (seconds)</label>
        <input
          id="rotate-grace"
          type="number"
          min={0}
          max={604800}
          required
          value={grace}
          onInput={(e) => setGrace(e.currentTarget.value)}
          aria-describedby="rotate-grace-hint"
        />
        <p id="rotate-grace-hint" class="hint">
          0 for none; up to 604800 (7 days).
        </p>
      </ConfirmDialog>
      <SecretDialog secret={shown} onClose={() => setShown(null)} />
    </Section>
  );
}

function graceNote(secrets: IdentitySecrets): string {
  return secrets.previousSecretValidUntil
    ? `The previous secret still works until ${formatInstant(secrets.previousSecretValidUntil)}.`
    : 'It can be revealed again here.';
}
