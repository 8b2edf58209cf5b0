import { useEffect, useState } from 'preact/hooks';
import { api, envPath, query, type ApiError } from '../api';
import { asApiError } from '../hooks';
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
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (after: string | null) => {
    if (after && busy) return;
    setBusy(true);
    setError(null);
    try {
      const page = pageOf(await api.get<unknown>(`${envPath(env, 'audit-events')}${query({ cursor: after, limit: PAGE_SIZE })}`));
      setEvents((prev) => (after && prev ? [...prev, ...page.events] : page.events));
      setCursor(page.nextCursor);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    setEvents(null);
    void load(null);
  }, [env]);

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
      {cursor && (
        <button type="button" onClick={() => void load(cursor)} aria-disabled={busy || undefined}>
          Load older events
        </button>
      )}
    </Page>
  );
}
