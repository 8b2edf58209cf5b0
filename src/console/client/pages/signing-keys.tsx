import { useState } from 'preact/hooks';
import { api, envPath } from '../api';
import { useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { SigningKey } from '../wire';
import { formatInstant } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';

export function SigningKeys({ env }: EnvironmentPageProps) {
  const { principal } = useConsole();
  const keys = useResource(() => api.get<{ keys: SigningKey[] }>(envPath(env, 'signing-keys')), [env]);
  const [confirming, setConfirming] = useState(false);
  const [rotated, setRotated] = useState('');
  // Rotation changes the whole environment: a token limited to some sites may not.
  const mayRotate = canWrite(principal) && principal.siteIds === null;
  return (
    <Page title="Signing keys">
      <p class="hint">
        The ES256 keys that sign {env} verification tokens, published at <code>/.well-known/jwks.json</code>. After a
        rotation the previous key stays published until every token it signed has expired.
      </p>
      <Section title="Keys">
        <ErrorMessage error={keys.error} />
        {!keys.data && !keys.error && <Loading what="signing keys" />}
        {keys.data && (
          <table>
            <caption class="visually-hidden">Signing keys</caption>
            <thead>
              <tr>
                <th scope="col">Key id (kid)</th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((key) => (
                <tr key={key.kid}>
                  <th scope="row">
                    <code>{key.kid}</code>
                  </th>
                  <td>{formatInstant(key.createdAt)}</td>
                  <td>{key.current ? 'Signs new tokens' : `Published until ${formatInstant(key.retiresAt)}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {mayRotate && (
          <p>
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Rotate signing key
            </button>{' '}
            <span role="status">{rotated}</span>
          </p>
        )}
      </Section>
      <ConfirmDialog
        open={confirming}
        title={`Rotate the ${env} signing key?`}
        confirmLabel="Rotate signing key"
        danger
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          const result = await api.post<{ kid: string; previousKid: string | null }>(envPath(env, 'signing-keys', 'rotate'));
          setRotated(`Rotated: ${result.kid} signs from now on.`);
          await keys.reload();
        }}
      >
        <p>A new key signs verification tokens from now on. Tokens already issued keep verifying until they expire.</p>
      </ConfirmDialog>
    </Page>
  );
}
