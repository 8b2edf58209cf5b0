import { useState } from 'preact/hooks';
import { api, envPath } from '../api';
import { useAction, useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { ApiKey, CreatedApiKey, Environment } from '../wire';
import { formatInstant, maskedKey, relative, utcInputToIso } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { InlineForm } from '../components/inline-form';
import { Loading, Section } from '../components/page';
import { SecretDialog, type ShownSecret } from '../components/secret-dialog';

/** How long a rolled key keeps working, as offered (the API allows 0 to 7 days). */
const ROLL_OVERLAPS: readonly [number, string][] = [
  [0, 'Stops at once'],
  [3600, '1 hour'],
  [86_400, '24 hours'],
  [604_800, '7 days'],
];

function statusOf(key: ApiKey, now = Date.now()): string {
  if (key.revokedAt) return `Revoked ${formatInstant(key.revokedAt)}`;
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return `Expired ${formatInstant(key.expiresAt)}`;
  if (key.expiresAt) return `Active, expires ${relative(key.expiresAt, now)}`;
  return 'Active';
}

const isActive = (key: ApiKey, now = Date.now()) => !key.revokedAt && (!key.expiresAt || Date.parse(key.expiresAt) > now);

export function ApiKeysSection({ env, siteId }: { env: Environment; siteId: string }) {
  const { principal } = useConsole();
  const keys = useResource(() => api.get<{ apiKeys: ApiKey[] }>(envPath(env, 'sites', siteId, 'api-keys')), [env, siteId]);
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [shown, setShown] = useState<ShownSecret | null>(null);
  const [rolling, setRolling] = useState<ApiKey | null>(null);
  const [overlap, setOverlap] = useState('3600');
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const writable = canWrite(principal);

  const create = useAction(async () => {
    const expiresAt = utcInputToIso(expires);
    const created = await api.post<CreatedApiKey>(envPath(env, 'sites', siteId, 'api-keys'), {
      name: name.trim(),
      ...(expiresAt && { expiresAt }),
    });
    setName('');
    setExpires('');
    setShown({
      title: `API key ${created.name} created`,
      label: 'API key',
      value: created.apiKey,
      note: 'Put it in your backend as VERIGATE_API_KEY; never in a page.',
    });
    await keys.reload();
  });

  return (
    <Section title="API keys">
      <p class="hint">Secret keys your backend sends in X-API-KEY to exchange verification tokens. Each is shown once.</p>
      <ErrorMessage error={keys.error} />
      {!keys.data && !keys.error && <Loading what="API keys" />}
      {keys.data && keys.data.apiKeys.length === 0 && <p>No API keys yet.</p>}
      {keys.data && keys.data.apiKeys.length > 0 && (
        <table>
          <caption class="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              {writable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {keys.data.apiKeys.map((key) => (
              <tr key={key.keyId}>
                <th scope="row">{key.name}</th>
                <td>
                  <code>{maskedKey(env, key.last4)}</code>
                </td>
                <td>{formatInstant(key.createdAt)}</td>
                <td>{key.lastUsedAt ? `${formatInstant(key.lastUsedAt)} (${relative(key.lastUsedAt)})` : 'never'}</td>
                <td>{statusOf(key)}</td>
                {writable && (
                  <td class="actions">
                    {isActive(key) && (
                      <>
                        <button type="button" onClick={() => setRolling(key)}>
                          Roll
                        </button>
                        <button type="button" class="danger" onClick={() => setRevoking(key)}>
                          Revoke
                        </button>
                      </>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {writable && (
        <InlineForm onSubmit={create.run}>
          <div class="field">
            <label for="api-key-name">Key name</label>
            <input id="api-key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="api-key-expires">Expires (UTC, optional)</label>
            <input id="api-key-expires" type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
          </div>
          <button type="submit" class="primary" aria-disabled={create.busy || undefined}>
            Create API key
          </button>
          <ErrorMessage error={create.error} prefix="No key was created" />
        </InlineForm>
      )}
      <ConfirmDialog
        open={rolling !== null}
        title={`Roll API key ${rolling?.name ?? ''}`}
        confirmLabel="Roll"
        onClose={() => setRolling(null)}
        onConfirm={async () => {
          if (!rolling) return;
          const rolled = await api.post<CreatedApiKey>(envPath(env, 'sites', siteId, 'api-keys', rolling.keyId, 'roll'), {
            expiresInSeconds: Number(overlap),
          });
          setShown({
            title: `API key ${rolled.name} rolled`,
            label: 'New API key',
            value: rolled.apiKey,
            note: 'Deploy it to your backend before the old key stops working.',
          });
          await keys.reload();
        }}
      >
        <p>A new key replaces this one. Deploy the new key, then let the old one run out.</p>
        <label for="roll-overlap">The old key keeps working for</label>
        <select id="roll-overlap" value={overlap} onChange={(e) => setOverlap(e.currentTarget.value)}>
          {ROLL_OVERLAPS.map(([seconds, label]) => (
            <option key={seconds} value={String(seconds)}>
              {label}
            </option>
          ))}
        </select>
      </ConfirmDialog>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke API key ${revoking?.name ?? ''}?`}
        confirmLabel="Revoke"
        danger
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          await api.delete(envPath(env, 'sites', siteId, 'api-keys', revoking.keyId));
          await keys.reload();
        }}
      >
        <p>Backends that send this key are refused within a second, on every instance. This cannot be undone.</p>
      </ConfirmDialog>
      <SecretDialog secret={shown} onClose={() => setShown(null)} />
    </Section>
  );
}
