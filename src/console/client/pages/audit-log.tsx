import { api, envPath, query } from '../api';
import { usePages } from '../hooks';
import type { AuditEvent } from '../wire';
import { formatInstant } from '../format';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page } from '../components/page';
import { Unavailable } from '../components/unavailable';
import type { EnvironmentPageProps } from './environment-gate';

const PAGE_SIZE = 50;

/** The ids an event touched, for the Details column: never a secret (events carry none). */
function details(event: AuditEvent): string {
  const data = event.data ?? {};
  return Object.entries(data)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
}

/** The page of events and its cursor, whichever member names the list. */
function pageOf(body: unknown): { events: AuditEvent[]; nextCursor: string | null } {
  const b = (body ?? {}) as Record<string, unknown>;
  const list = b.data ?? b.events ?? b.auditEvents;
  return {
    events: Array.isArray(list) ? (list as AuditEvent[]) : [],
    nextCursor: typeof b.nextCursor === 'string' && b.hasMore !== false ? b.nextCursor : null,
  };
}

export function AuditLog({ env }: EnvironmentPageProps) {
  const pages = usePages(async (cursor) => {
    const page = pageOf(await api.get<unknown>(`${envPath(env, 'audit-events')}${query({ cursor, limit: PAGE_SIZE })}`));
    return { items: page.events, nextCursor: page.nextCursor };
  }, [env]);
  const { items: events, error } = pages;

  return (
    <Page title="Audit log">
      <p class="hint">What admin calls changed in {env}: who, from where, and which records.</p>
      {error?.unavailable ? <Unavailable what="The audit log" /> : <ErrorMessage error={error} />}
      {events === null && !error && <Loading what="the audit log" />}
      {events && events.length === 0 && <p role="status">No admin changes recorded yet.</p>}
      {events && events.length > 0 && (
        <table>
          <caption class="visually-hidden">Audit events</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Client address</th>
              <th scope="col">Site</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr key={event.id}>
                <td>{formatInstant(event.createdAt)}</td>
                <th scope="row">
                  <code>{event.type}</code>
                </th>
                <td>{event.actor ?? ''}</td>
                <td>{event.clientAddress ?? ''}</td>
                <td>{event.siteId ? <code>{event.siteId}</code> : ''}</td>
                <td>{details(event)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pages.hasMore && (
        <button type="button" onClick={() => void pages.more()} aria-disabled={pages.busy || undefined}>
          Load older events
        </button>
      )}
    </Page>
  );
}
