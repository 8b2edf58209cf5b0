import { useState } from 'preact/hooks';
import { api, envPath } from '../api';
import { useAction, useResource } from '../hooks';
import { canWrite, useConsole } from '../session';
import type { WebhookDelivery, WebhookEndpoint } from '../wire';
import { formatInstant } from '../format';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page } from '../components/page';
import { Unavailable } from '../components/unavailable';
import type { EnvironmentPageProps } from './environment-gate';
import { segment } from '../routing';

function deliveriesOf(body: unknown): WebhookDelivery[] {
  if (Array.isArray(body)) return body as WebhookDelivery[];
  const b = (body ?? {}) as Record<string, unknown>;
  const list = b.deliveries ?? b.data;
  return Array.isArray(list) ? (list as WebhookDelivery[]) : [];
}

export function WebhookDeliveries({ env, params }: EnvironmentPageProps) {
  const { principal } = useConsole();
  const siteId = params.siteId ?? '';
  const endpointId = params.endpointId ?? '';
  const base = envPath(env, 'sites', siteId, 'webhook-endpoints', endpointId);
  const endpoint = useResource(() => api.get<WebhookEndpoint>(base), [base]);
  const deliveries = useResource(async () => deliveriesOf(await api.get<unknown>(`${base}/deliveries`)), [base]);
  const [resent, setResent] = useState('');
  const resend = useAction(async (eventId: string) => {
    await api.post(`${base}/deliveries/${encodeURIComponent(eventId)}/resend`);
    setResent(`Event ${eventId} queued again.`);
    await deliveries.reload();
  });
  const back = `#/${env}/sites/${segment(siteId)}`;
  const unavailable = endpoint.error?.unavailable || deliveries.error?.unavailable;
  return (
    <Page title="Webhook deliveries">
      <p>
        <a href={back}>Back to the site</a>
      </p>
      {unavailable ? (
        <Unavailable what="Webhook deliveries" />
      ) : (
        <>
          {endpoint.data && (
            <p>
              Endpoint <code>{endpoint.data.url}</code>
            </p>
          )}
          <ErrorMessage error={endpoint.error ?? deliveries.error} />
          <ErrorMessage error={resend.error} prefix="Not resent" />
          <p role="status">{resent}</p>
          {!deliveries.data && !deliveries.error && <Loading what="deliveries" />}
          {deliveries.data && deliveries.data.length === 0 && <p>No deliveries yet.</p>}
          {deliveries.data && deliveries.data.length > 0 && (
            <table>
              <caption class="visually-hidden">Delivery attempts</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempted</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Error</th>
                  <th scope="col">Next try</th>
                  {canWrite(principal) && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {deliveries.data.map((d, i) => (
                  <tr key={`${d.eventId}-${d.attempt ?? i}`}>
                    <th scope="row">
                      <code>{d.eventId}</code> {d.eventType ?? ''}
                    </th>
                    <td>
                      {d.status}
                      {d.statusCode ? ` (HTTP ${d.statusCode})` : ''}
                    </td>
                    <td>{formatInstant(d.attemptedAt, '')}</td>
                    <td>{d.durationMs != null ? `${d.durationMs} ms` : ''}</td>
                    <td>{d.error ?? ''}</td>
                    <td>{formatInstant(d.nextAttemptAt, '')}</td>
                    {canWrite(principal) && (
                      <td>
                        <button type="button" onClick={() => void resend.run(d.eventId)} aria-disabled={resend.busy || undefined}>
                          Resend
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Page>
  );
}
