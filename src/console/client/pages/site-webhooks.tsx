import { useState } from 'preact/hooks';
import { api, envPath } from '../api';
import { useAction, useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { CreatedWebhookEndpoint, Environment, WebhookEndpoint } from '../wire';
import { formatInstant } from '../format';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ErrorMessage } from '../components/error-message';
import { InlineForm } from '../components/inline-form';
import { Loading, Section } from '../components/page';
import { SecretDialog, type ShownSecret } from '../components/secret-dialog';
import { Unavailable } from '../components/unavailable';
import { segment } from '../routing';

/** The list of endpoints, whichever member the gateway names it by. */
export function endpointsOf(body: unknown): WebhookEndpoint[] {
  if (Array.isArray(body)) return body as WebhookEndpoint[];
  const b = (body ?? {}) as Record<string, unknown>;
  const list = b.webhookEndpoints ?? b.endpoints ?? b.data;
  return Array.isArray(list) ? (list as WebhookEndpoint[]) : [];
}

export function WebhookEndpointsSection({ env, siteId }: { env: Environment; siteId: string }) {
  const { principal } = useConsole();
  const endpoints = useResource(
    async () => endpointsOf(await api.get<unknown>(envPath(env, 'sites', siteId, 'webhook-endpoints'))),
    [env, siteId],
  );
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [shown, setShown] = useState<ShownSecret | null>(null);
  const [deleting, setDeleting] = useState<WebhookEndpoint | null>(null);
  const writable = canWrite(principal);
  const create = useAction(async () => {
    const created = await api.post<CreatedWebhookEndpoint>(envPath(env, 'sites', siteId, 'webhook-endpoints'), {
      url: url.trim(),
      ...(description.trim() && { description: description.trim() }),
    });
    setUrl('');
    setDescription('');
    setShown({
      title: 'Webhook endpoint created',
      label: 'Signing secret',
      value: created.secret,
      note: 'Your receiver checks webhook-signature with it (Standard Webhooks).',
    });
    await endpoints.reload();
  });

  if (endpoints.error?.unavailable) {
    return (
      <Section title="Webhook endpoints">
        <Unavailable what="Webhook endpoints" />
      </Section>
    );
  }
  return (
    <Section title="Webhook endpoints">
      <ErrorMessage error={endpoints.error} />
      {!endpoints.data && !endpoints.error && <Loading what="webhook endpoints" />}
      {endpoints.data && endpoints.data.length === 0 && <p>No webhook endpoints yet.</p>}
      {endpoints.data && endpoints.data.length > 0 && (
        <table>
          <caption class="visually-hidden">Webhook endpoints</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Description</th>
              <th scope="col">Events</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {endpoints.data.map((endpoint) => (
              <tr key={endpoint.endpointId}>
                <th scope="row">
                  <code>{endpoint.url}</code>
                  {endpoint.disabled ? ' (disabled)' : ''}
                </th>
                <td>{endpoint.description ?? ''}</td>
                <td>{endpoint.eventTypes?.length ? endpoint.eventTypes.join(', ') : 'all'}</td>
                <td>{formatInstant(endpoint.createdAt)}</td>
                <td class="actions">
                  <a href={`#/${env}/sites/${segment(siteId)}/webhook-endpoints/${segment(endpoint.endpointId)}`}>
                    Deliveries
                  </a>
                  {writable && (
                    <button type="button" class="danger" onClick={() => setDeleting(endpoint)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {writable && (
        <InlineForm onSubmit={create.run}>
          <div class="field">
            <label for="webhook-url">Endpoint URL</label>
            <input id="webhook-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="webhook-description">Description (optional)</label>
            <input id="webhook-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </div>
          <button type="submit" class="primary" aria-disabled={create.busy || undefined}>
            Add webhook endpoint
          </button>
          <ErrorMessage error={create.error} prefix="No endpoint was added" />
        </InlineForm>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title="Delete webhook endpoint?"
        confirmLabel="Delete"
        danger
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await api.delete(envPath(env, 'sites', siteId, 'webhook-endpoints', deleting.endpointId));
          await endpoints.reload();
        }}
      >
        <p>
          No more events are sent to <code>{deleting?.url}</code>.
        </p>
      </ConfirmDialog>
      <SecretDialog secret={shown} onClose={() => setShown(null)} />
    </Section>
  );
}
