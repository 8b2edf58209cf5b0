import pino from 'pino';
import { loadConfig } from '../../src/config';
import { createGateway } from '../../src/gateway';
import type { Route } from '../../src/http/routes';
import { documentedOperations } from '../support/openapi';

/**
 * The route table (src/http/routes.ts) and openapi.yaml describe the same
 * API: every route is documented, and every documented operation is routed.
 */

/**
 * Documented operations allowed to have no route yet, as `METHOD /template`,
 * each with the reason. Empty now that POST /live_api/v1/sessions has landed.
 * OPTIONS preflights need no entry: mountRoutes adds one for every `browser`
 * route, and routedOperations() counts them from that flag.
 */
const DOCUMENTED_BUT_NOT_ROUTED: readonly string[] = [];

/** `/admin/v1/:environment/sites/:siteId` -> `/admin/v1/{environment}/sites/{siteId}` */
const toTemplate = (expressPath: string): string => expressPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
const op = (method: string, path: string): string => `${method} ${path}`;

/** The tables a gateway (embedded store, never listening) serves. */
function routeTables(): { live: readonly Route[]; admin: readonly Route[] } {
  const gateway = createGateway(loadConfig({ LIVE_PORT: '0', SANDBOX_PORT: '0', ADMIN_PORT: '0' }), { log: pino({ level: 'silent' }) });
  const { live, admin } = gateway.listeners;
  if (!live || !admin) throw new Error('the gateway built no live or admin listener');
  return { live: live.routes, admin: admin.routes };
}

/** Every (method, template) a listener answers, preflights included. */
function routedOperations(routes: readonly Route[]): Set<string> {
  const out = new Set<string>();
  for (const r of routes) {
    out.add(op(r.method, toTemplate(r.path)));
    if (r.browser) out.add(op('OPTIONS', toTemplate(r.path)));
  }
  return out;
}

describe('route table vs openapi.yaml', () => {
  const tables = routeTables();
  const routed = { live: routedOperations(tables.live), admin: routedOperations(tables.admin) };
  const documented = documentedOperations();
  const documentedFor = (listener: 'live' | 'sandbox' | 'admin') =>
    new Set(documented.filter((d) => d.listeners.includes(listener)).map((d) => op(d.method, d.path)));

  it('builds non-trivial tables', () => {
    expect(tables.live.length).toBeGreaterThanOrEqual(9);
    expect(tables.admin.length).toBeGreaterThanOrEqual(20);
    expect(documented.length).toBeGreaterThanOrEqual(30);
  });

  it('converts Express params to OpenAPI templates', () => {
    expect(toTemplate('/admin/v1/:environment/sites/:siteId/api-keys/:keyId/roll')).toBe(
      '/admin/v1/{environment}/sites/{siteId}/api-keys/{keyId}/roll',
    );
  });

  it('has no duplicate routes', () => {
    for (const routes of [tables.live, tables.admin]) {
      const ops = routes.map((r) => op(r.method, r.path));
      expect(ops.filter((o, i) => ops.indexOf(o) !== i)).toEqual([]);
    }
  });

  it.each(['live', 'sandbox'] as const)('every environment route is documented for the %s listener', (listener) => {
    const docs = documentedFor(listener);
    expect([...routed.live].filter((o) => !docs.has(o))).toEqual([]);
  });

  it('every admin route is documented for the admin listener', () => {
    const docs = documentedFor('admin');
    expect([...routed.admin].filter((o) => !docs.has(o))).toEqual([]);
  });

  it.each(['live', 'sandbox'] as const)('every operation documented for the %s listener is routed', (listener) => {
    const missing = [...documentedFor(listener)].filter((o) => !routed.live.has(o) && !DOCUMENTED_BUT_NOT_ROUTED.includes(o));
    expect(missing).toEqual([]);
  });

  it('every operation documented for the admin listener is routed', () => {
    const missing = [...documentedFor('admin')].filter((o) => !routed.admin.has(o) && !DOCUMENTED_BUT_NOT_ROUTED.includes(o));
    expect(missing).toEqual([]);
  });

  it('admin paths are served only by the admin listener, public paths never by it', () => {
    const adminOnly = documented.filter((d) => d.path.startsWith('/admin/') || d.path === '/metrics');
    for (const d of adminOnly) expect(d.listeners).toEqual(['admin']);
    for (const o of routed.live) expect(o).not.toMatch(/ \/(admin\/|metrics$)/);
    for (const o of routed.admin) expect(o).not.toMatch(/ \/live_api\//);
  });
});
