import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, envPath, query } from '../api';
import { asApiError, useResource } from '../hooks';
import type { ApiError } from '../api';
import type { Site, User, UserPage } from '../wire';
import { formatInstant } from '../format';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';

const PAGE_SIZE = 25;

/** Users of a site: prefix search on user id or email, a page at a time; the query lives in the URL. */
export function Users({ env, params }: EnvironmentPageProps) {
  const siteId = params.siteId ?? '';
  const location = useLocation();
  const current = location.query.query ?? '';
  const site = useResource(() => api.get<Site>(envPath(env, 'sites', siteId)), [env, siteId]);
  const [text, setText] = useState(current);
  const [users, setUsers] = useState<User[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (after: string | null) => {
    if (after && busy) return;
    setBusy(true);
    setError(null);
    try {
      const page = await api.get<UserPage>(
        `${envPath(env, 'sites', siteId, 'users')}${query({ query: current, cursor: after, limit: PAGE_SIZE })}`,
      );
      setUsers((prev) => (after && prev ? [...prev, ...page.users] : page.users));
      setCursor(page.nextCursor);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    setText(current);
    setUsers(null);
    void load(null);
  }, [env, siteId, current]);

  const siteName = site.data?.name ?? siteId;
  const base = `/console/${env}/sites/${encodeURIComponent(siteId)}`;
  return (
    <Page title={`Users of ${siteName}`}>
      <p>
        <a href={base}>Back to {siteName}</a>
      </p>
      <form
        role="search"
        aria-label="Users"
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          location.route(`${base}/users${query({ query: text.trim() })}`);
        }}
      >
        <div class="field">
          <label for="user-query">Find users</label>
          <input
            id="user-query"
            type="search"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            aria-describedby="user-query-hint"
          />
        </div>
        <button type="submit" class="primary">
          Search
        </button>
        <p id="user-query-hint" class="hint">
          The start of a user id or an email address; empty lists every user.
        </p>
      </form>
      <Section title={current ? `Users matching “${current}”` : 'All users'} id="user-results">
        <ErrorMessage error={error} />
        {users === null && !error && <Loading what="users" />}
        {users && users.length === 0 && <p role="status">No users found.</p>}
        {users && users.length > 0 && (
          <table>
            <caption class="visually-hidden">Users</caption>
            <thead>
              <tr>
                <th scope="col">User id</th>
                <th scope="col">Email</th>
                <th scope="col">Name</th>
                <th scope="col">Products</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <tr key={user.userId}>
                  <th scope="row">
                    <a href={`${base}/users/${encodeURIComponent(user.userId)}`}>{user.userId}</a>
                  </th>
                  <td>{user.email ?? ''}</td>
                  <td>{user.name ?? ''}</td>
                  <td>{user.productAccess.map((p) => p.productId).join(', ')}</td>
                  <td>{formatInstant(user.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {cursor && (
          <button type="button" onClick={() => void load(cursor)} aria-disabled={busy || undefined}>
            Load more users
          </button>
        )}
      </Section>
    </Page>
  );
}
