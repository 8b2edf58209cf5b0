import { useState } from 'preact/hooks';
import { navigate, segment } from '../routing';
import { api, envPath } from '../api';
import { useAction, useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { CreatedSite, Site } from '../wire';
import { formatInstant } from '../format';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';

/** "https://a.example\nhttps://b.example" (or commas) to a list; blank lines dropped. */
export function parseOrigins(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function Sites({ env }: EnvironmentPageProps) {
  const { principal } = useConsole();
  const sites = useResource(() => api.get<{ sites: Site[] }>(envPath(env, 'sites')), [env]);
  const [name, setName] = useState('');
  const [origins, setOrigins] = useState('');
  const create = useAction(async () => {
    const site = await api.post<CreatedSite>(envPath(env, 'sites'), { name: name.trim(), allowedOrigins: parseOrigins(origins) });
    navigate(`/${env}/sites/${segment(site.siteId)}`);
  });
  // A token limited to some sites cannot create one (the new site would be outside its scope).
  const mayCreate = canWrite(principal) && principal.siteIds === null;

  return (
    <Page title="Sites">
      <Section title={`Sites in ${env}`} id="site-list">
        <ErrorMessage error={sites.error} />
        {!sites.data && !sites.error && <Loading what="sites" />}
        {sites.data && sites.data.sites.length === 0 && <p>No sites in {env} yet.</p>}
        {sites.data && sites.data.sites.length > 0 && (
          <table>
            <caption class="visually-hidden">Sites in {env}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Site id</th>
                <th scope="col">Allowed origins</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sites.data.sites.map((site) => (
                <tr key={site.siteId}>
                  <th scope="row">
                    <a href={`#/${env}/sites/${segment(site.siteId)}`}>{site.name}</a>
                  </th>
                  <td>
                    <code>{site.siteId}</code>
                  </td>
                  <td>{site.allowedOrigins.length ? site.allowedOrigins.join(', ') : <span class="muted">none</span>}</td>
                  <td>{formatInstant(site.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {mayCreate && (
        <Section title="New site">
          <form
            class="stack"
            onSubmit={(e) => {
              e.preventDefault();
              void create.run();
            }}
          >
            <label for="site-name">Name</label>
            <input id="site-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            <label for="site-origins">Allowed origins</label>
            <textarea
              id="site-origins"
              rows={3}
              value={origins}
              onInput={(e) => setOrigins(e.currentTarget.value)}
              aria-describedby="site-origins-hint"
            />
            <p id="site-origins-hint" class="hint">
              One origin a line, like <code>https://shop.example</code>: the pages allowed to sign visitors in.
              {env === 'sandbox' ? ' In sandbox, * allows any origin.' : ''}
            </p>
            <ErrorMessage error={create.error} prefix="The site was not created" />
            <div>
              <button type="submit" class="primary" aria-disabled={create.busy || undefined}>
                Create site
              </button>
            </div>
          </form>
        </Section>
      )}
    </Page>
  );
}
