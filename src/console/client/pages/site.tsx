import { useEffect, useState } from 'preact/hooks';
import { navigate, segment } from '../routing';
import { api, envPath } from '../api';
import { useAction, useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { Site } from '../wire';
import { formatInstant } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { CopyButton } from '../components/copy-button';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';
import { ApiKeysSection } from './site-api-keys';
import { IdentitySecretSection } from './site-identity-secret';
import { WebhookEndpointsSection } from './site-webhooks';
import { parseOrigins } from './sites';

export function SiteDetail({ env, params }: EnvironmentPageProps) {
  const siteId = params.siteId ?? '';
  const site = useResource(() => api.get<Site>(envPath(env, 'sites', siteId)), [env, siteId]);
  if (site.error && !site.data) {
    return (
      <Page title="Site unavailable">
        <ErrorMessage error={site.error} prefix={`Site ${siteId}`} />
        <p>
          <a href={`#/${env}/sites`}>Back to the sites</a>
        </p>
      </Page>
    );
  }
  if (!site.data) {
    return (
      <Page title="Site">
        <Loading what="the site" />
      </Page>
    );
  }
  const data = site.data;
  return (
    <Page title={data.name}>
      <dl class="facts">
        <dt>Site id</dt>
        <dd>
          <code>{data.siteId}</code>
        </dd>
        <dt>Environment</dt>
        <dd>{env}</dd>
        <dt>Publishable key</dt>
        <dd>
          <code id="publishable-key">{data.publishableKey}</code>{' '}
          <CopyButton value={data.publishableKey} label="Copy publishable key" />
        </dd>
        <dt>Created</dt>
        <dd>{formatInstant(data.createdAt)}</dd>
      </dl>
      <p>
        <a href={`#/${env}/sites/${segment(siteId)}/users`}>Users of {data.name}</a>
      </p>
      <SettingsSection env={env} site={data} onSaved={() => void site.reload()} />
      <ApiKeysSection env={env} siteId={siteId} />
      <IdentitySecretSection env={env} siteId={siteId} />
      <WebhookEndpointsSection env={env} siteId={siteId} />
      <DeleteSiteSection env={env} site={data} />
    </Page>
  );
}

function SettingsSection({ env, site, onSaved }: { env: EnvironmentPageProps['env']; site: Site; onSaved: () => void }) {
  const { principal } = useConsole();
  const [name, setName] = useState(site.name);
  const [origins, setOrigins] = useState(site.allowedOrigins.join('\n'));
  const [maxAge, setMaxAge] = useState(String(site.maxIdentityTokenAgeSeconds));
  const [saved, setSaved] = useState('');
  useEffect(() => {
    setName(site.name);
    setOrigins(site.allowedOrigins.join('\n'));
    setMaxAge(String(site.maxIdentityTokenAgeSeconds));
  }, [site]);
  const save = useAction(async () => {
    setSaved('');
    await api.patch<Site>(envPath(env, 'sites', site.siteId), {
      name: name.trim(),
      allowedOrigins: parseOrigins(origins),
      maxIdentityTokenAgeSeconds: Number(maxAge),
    });
    setSaved('Saved.');
    onSaved();
  });
  const readOnly = !canWrite(principal);
  return (
    <Section title="Settings">
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <label for="settings-name">Name</label>
        <input id="settings-name" required maxLength={200} value={name} readOnly={readOnly} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="settings-origins">Allowed origins</label>
        <textarea
          id="settings-origins"
          rows={3}
          value={origins}
          readOnly={readOnly}
          onInput={(e) => setOrigins(e.currentTarget.value)}
          aria-describedby="settings-origins-hint"
        />
        <p id="settings-origins-hint" class="hint">
          One origin a line (<code>https://shop.example</code>).
        </p>
        <label for="settings-max-age">Longest identity token lifetime (seconds)</label>
        <input
          id="settings-max-age"
          type="number"
          min={1}
          max={604800}
          required
          value={maxAge}
          readOnly={readOnly}
          onInput={(e) => setMaxAge(e.currentTarget.value)}
        />
        <ErrorMessage error={save.error} prefix="Not saved" />
        {!readOnly && (
          <div>
            <button type="submit" class="primary" aria-disabled={save.busy || undefined}>
              Save changes
            </button>{' '}
            <span role="status">{saved}</span>
          </div>
        )}
      </form>
    </Section>
  );
}

function DeleteSiteSection({ env, site }: { env: EnvironmentPageProps['env']; site: Site }) {
  const { principal } = useConsole();
  const [confirming, setConfirming] = useState(false);
  if (!canWrite(principal)) return null;
  return (
    <Section title="Delete this site">
      <p>Deleting a site deletes its API keys, users and sessions. Its keys and sessions stop working within a second.</p>
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Delete site
      </button>
      <ConfirmDialog
        open={confirming}
        title={`Delete site ${site.name}?`}
        confirmLabel="Delete site"
        danger
        onClose={() => setConfirming(false)}
        onConfirm={async () => {
          await api.delete(envPath(env, 'sites', site.siteId));
          navigate(`/${env}/sites`);
        }}
      >
        <p>
          Every API key, user and session of <strong>{site.name}</strong> (<code>{site.siteId}</code>) is deleted. This
          cannot be undone.
        </p>
      </ConfirmDialog>
    </Section>
  );
}
