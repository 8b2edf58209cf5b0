import { useState } from 'preact/hooks';
import { navigate, segment } from '../routing';
import { api, envPath } from '../api';
import { useAction, useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { Environment, ProductAccess, Session, User } from '../wire';
import { formatInstant, relative, utcInputToIso } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { InlineForm } from '../components/inline-form';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';

export function UserDetail({ env, params }: EnvironmentPageProps) {
  const siteId = params.siteId ?? '';
  const userId = params.userId ?? '';
  const path = (...rest: string[]) => envPath(env, 'sites', siteId, 'users', userId, ...rest);
  const user = useResource(() => api.get<User>(path()), [env, siteId, userId]);
  const siteBase = `#/${env}/sites/${segment(siteId)}`;
  if (user.error && !user.data) {
    return (
      <Page title="User unavailable">
        <ErrorMessage error={user.error} prefix={`User ${userId}`} />
        <p>
          <a href={`${siteBase}/users`}>Back to the users</a>
        </p>
      </Page>
    );
  }
  if (!user.data) {
    return (
      <Page title={`User ${userId}`}>
        <Loading what="the user" />
      </Page>
    );
  }
  const data = user.data;
  return (
    <Page title={`User ${data.userId}`}>
      <p>
        <a href={`${siteBase}/users`}>Back to the users</a>
      </p>
      <dl class="facts">
        <dt>Email</dt>
        <dd>{data.email ?? <span class="muted">none</span>}</dd>
        <dt>Name</dt>
        <dd>{data.name ?? <span class="muted">none</span>}</dd>
        <dt>First seen</dt>
        <dd>{formatInstant(data.createdAt)}</dd>
        <dt>Updated</dt>
        <dd>{formatInstant(data.updatedAt)}</dd>
        <dt>Attributes</dt>
        <dd>
          {Object.keys(data.attributes).length === 0 ? (
            <span class="muted">none</span>
          ) : (
            <pre class="attributes">{JSON.stringify(data.attributes, null, 2)}</pre>
          )}
        </dd>
      </dl>
      <ProductAccessSection env={env} user={data} path={path} onChange={() => void user.reload()} />
      <SessionsSection path={path} />
      <DeleteUserSection env={env} siteId={siteId} user={data} path={path} />
    </Page>
  );
}

type PathOf = (...rest: string[]) => string;

function ProductAccessSection({ user, path, onChange }: { env: Environment; user: User; path: PathOf; onChange: () => void }) {
  const { principal } = useConsole();
  const [productId, setProductId] = useState('');
  const [expires, setExpires] = useState('');
  const [revoking, setRevoking] = useState<ProductAccess | null>(null);
  const writable = canWrite(principal);
  const grant = useAction(async () => {
    const expiresAt = utcInputToIso(expires);
    await api.put<User>(path('products', productId.trim()), expiresAt ? { expiresAt } : {});
    setProductId('');
    setExpires('');
    onChange();
  });
  return (
    <Section title="Product access">
      {user.productAccess.length === 0 ? (
        <p>No product access.</p>
      ) : (
        <table>
          <caption class="visually-hidden">Product access</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Expires</th>
              {writable && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {user.productAccess.map((access) => (
              <tr key={access.productId}>
                <th scope="row">{access.productId}</th>
                <td>{access.expiresAt ? `${formatInstant(access.expiresAt)} (${relative(access.expiresAt)})` : 'never'}</td>
                {writable && (
                  <td class="actions">
                    <button type="button" class="danger" onClick={() => setRevoking(access)}>
                      Revoke
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {writable && (
        <InlineForm onSubmit={grant.run}>
          <div class="field">
            <label for="grant-product">Product id</label>
            <input id="grant-product" required maxLength={256} value={productId} onInput={(e) => setProductId(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="grant-expires">Expires (UTC, optional)</label>
            <input id="grant-expires" type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
          </div>
          <button type="submit" class="primary" aria-disabled={grant.busy || undefined}>
            Grant product
          </button>
          <ErrorMessage error={grant.error} prefix="Not granted" />
        </InlineForm>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.productId ?? ''} from ${user.userId}?`}
        confirmLabel="Revoke"
        danger
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (!revoking) return;
          await api.delete<User>(path('products', revoking.productId));
          onChange();
        }}
      >
        <p>The next exchange for this user no longer lists the product.</p>
      </ConfirmDialog>
    </Section>
  );
}

function SessionsSection({ path }: { path: PathOf }) {
  const { principal } = useConsole();
  const sessions = useResource(() => api.get<{ sessions: Session[] }>(path('sessions')), [path('sessions')]);
  const [confirming, setConfirming] = useState(false);
  const list = sessions.data?.sessions ?? [];
  return (
    <Section title="Sessions">
      <ErrorMessage error={sessions.error} />
      {!sessions.data && !sessions.error && <Loading what="sessions" />}
      {sessions.data && list.length === 0 && <p role="status">No active sessions.</p>}
      {list.length > 0 && (
        <table>
          <caption class="visually-hidden">Active sessions</caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last active</th>
              <th scope="col">Ends</th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.sessionId}>
                <th scope="row">
                  <code>{s.sessionId}</code>
                </th>
                <td>{formatInstant(s.createdAt)}</td>
                <td>{relative(s.lastActiveAt)}</td>
                <td>{formatInstant(s.expiresAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite(principal) && (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Sign out everywhere
        </button>
      )}
      <ConfirmDialog
        open={confirming}
        title="Sign this user out everywhere?"
        confirmLabel="Sign out everywhere"
        danger
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          await api.delete(path('sessions'));
          await sessions.reload();
        }}
      >
        <p>Every session ends now; their verification tokens are refused as session_ended within a second.</p>
      </ConfirmDialog>
    </Section>
  );
}

function DeleteUserSection({ env, siteId, user, path }: { env: Environment; siteId: string; user: User; path: PathOf }) {
  const { principal } = useConsole();
  const [confirming, setConfirming] = useState(false);
  if (!canWrite(principal)) return null;
  return (
    <Section title="Delete this user">
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Delete user
      </button>
      <ConfirmDialog
        open={confirming}
        title={`Delete user ${user.userId}?`}
        confirmLabel="Delete user"
        danger
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          await api.delete(path());
          navigate(`/${env}/sites/${segment(siteId)}/users`);
        }}
      >
        <p>The user and all of their sessions are deleted. A later sign-in creates the user afresh.</p>
      </ConfirmDialog>
    </Section>
  );
}
