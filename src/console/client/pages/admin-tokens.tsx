import { useState } from 'preact/hooks';
import { api } from '../api';
import { useAction, useResource } from '../hooks';
import { isRoot, useConsole } from '../session';
import type { AdminToken, CreatedAdminToken, Environment } from '../wire';
import { formatInstant } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import { SecretDialog, type ShownSecret } from '../components/secret-dialog';
import { parseOrigins as parseList } from './sites';

/** Scoped admin tokens: root only. A token reaches its environments, its sites (or all) and does what its role allows. */
export function AdminTokens() {
  const ctx = useConsole();
  if (!isRoot(ctx.principal)) {
    return (
      <Page title="Admin tokens">
        <p>Only the root admin token manages admin tokens.</p>
      </Page>
    );
  }
  return <AdminTokensForRoot />;
}

function AdminTokensForRoot() {
  const { environments } = useConsole();
  const tokens = useResource(() => api.get<{ adminTokens: AdminToken[] }>('/admin/v1/admin-tokens'), []);
  const [name, setName] = useState('');
  const [envs, setEnvs] = useState<Environment[]>(['sandbox']);
  const [sites, setSites] = useState('');
  const [role, setRole] = useState<'read' | 'write'>('read');
  const [shown, setShown] = useState<ShownSecret | null>(null);
  const [revoking, setRevoking] = useState<AdminToken | null>(null);

  const create = useAction(async () => {
    const siteIds = parseList(sites);
    const created = await api.post<CreatedAdminToken>('/admin/v1/admin-tokens', {
      name: name.trim(),
      environments: envs,
      role,
      ...(siteIds.length > 0 && { siteIds }),
    });
    setName('');
    setSites('');
    setShown({
      title: `Admin token ${created.name} created`,
      label: 'Admin token',
      value: created.token,
      note: 'Give it to the person or system it is for; it signs in to this console and calls the admin API.',
    });
    await tokens.reload();
  });

  const toggle = (env: Environment, on: boolean) =>
    setEnvs((prev) => (on ? [...new Set([...prev, env])] : prev.filter((e) => e !== env)));

  return (
    <Page title="Admin tokens">
      <Section title="Tokens">
        <ErrorMessage error={tokens.error} />
        {!tokens.data && !tokens.error && <Loading what="admin tokens" />}
        {tokens.data && tokens.data.adminTokens.length === 0 && <p>No scoped admin tokens yet.</p>}
        {tokens.data && tokens.data.adminTokens.length > 0 && (
          <table>
            <caption class="visually-hidden">Admin tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Role</th>
                <th scope="col">Environments</th>
                <th scope="col">Sites</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.adminTokens.map((t) => (
                <tr key={t.tokenId}>
                  <th scope="row">{t.name}</th>
                  <td>
                    <code>vg_admin_…{t.last4}</code>
                  </td>
                  <td>{t.role}</td>
                  <td>{t.environments.join(', ')}</td>
                  <td>{t.siteIds ? t.siteIds.join(', ') : 'all'}</td>
                  <td>{formatInstant(t.createdAt)}</td>
                  <td class="actions">
                    <button type="button" class="danger" onClick={() => setRevoking(t)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="New admin token">
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <label for="token-name">Name</label>
          <input id="token-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <fieldset>
            <legend>Environments</legend>
            {environments.map(({ environment }) => (
              <label key={environment} class="choice">
                <input
                  type="checkbox"
                  checked={envs.includes(environment)}
                  onChange={(e) => toggle(environment, e.currentTarget.checked)}
                />
                {environment === 'live' ? 'Live' : 'Sandbox'}
              </label>
            ))}
          </fieldset>
          <label for="token-sites">Site ids (optional)</label>
          <textarea id="token-sites" rows={2} value={sites} onInput={(e) => setSites(e.currentTarget.value)} aria-describedby="token-sites-hint" />
          <p id="token-sites-hint" class="hint">
            One site id a line. Leave empty for every site of the chosen environments.
          </p>
          <fieldset>
            <legend>Role</legend>
            <label class="choice">
              <input type="radio" name="token-role" value="read" checked={role === 'read'} onChange={() => setRole('read')} />
              Read
            </label>
            <label class="choice">
              <input type="radio" name="token-role" value="write" checked={role === 'write'} onChange={() => setRole('write')} />
              Write
            </label>
          </fieldset>
          <ErrorMessage error={create.error} prefix="No token was created" />
          <div>
            <button type="submit" class="primary" aria-disabled={create.busy || undefined}>
              Create admin token
            </button>
          </div>
        </form>
      </Section>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke admin token ${revoking?.name ?? ''}?`}
        confirmLabel="Revoke"
        danger
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          await api.delete(`/admin/v1/admin-tokens/${encodeURIComponent(revoking.tokenId)}`);
          await tokens.reload();
        }}
      >
        <p>It stops working within a second everywhere, console sessions signed in with it included.</p>
      </ConfirmDialog>
      <SecretDialog secret={shown} onClose={() => setShown(null)} />
    </Page>
  );
}
