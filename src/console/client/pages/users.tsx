import { useState } from 'preact/hooks';
import { api, envPath, query } from '../api';
import { usePages, useResource } from '../hooks';
import type { Site, UserPage } from '../wire';
import { formatInstant } from '../format';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';
import { segment } from '../routing';

const PAGE_SIZE = 25;

/** Users of a site: prefix search on user id or email, a page at a time. */
export function Users({ env, params }: EnvironmentPageProps) {
  const siteId = params.siteId ?? '';
  const [current, setCurrent] = useState('');
  // Searching the same words again loads afresh.
  const [searches, setSearches] = useState(0);
  const site = useResource(() => api.get<Site>(envPath(env, 'sites', siteId)), [env, siteId]);
  const [text, setText] = useState(current);
  const pages = usePages(async (cursor) => {
    const page = await api.get<UserPage>(`${envPath(env, 'sites', siteId, 'users')}${query({ query: current, cursor, limit: PAGE_SIZE })}`);
    return { items: page.users, nextCursor: page.nextCursor };
  }, [env, siteId, current, searches]);
  const { items: users, error } = pages;

  const siteName = site.data?.name ?? siteId;
  const base = `#/${env}/sites/${segment(siteId)}`;
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
          setCurrent(text.trim());
          setSearches((n) => n + 1);
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
                    <a href={`${base}/users/${segment(user.userId)}`}>{user.userId}</a>
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
        {pages.hasMore && (
          <button type="button" onClick={() => void pages.more()} aria-disabled={pages.busy || undefined}>
            Load more users
          </button>
        )}
      </Section>
    </Page>
  );
}
