import pino from 'pino';
import { loadConfig } from '../../src/config';
import { createGateway } from '../../src/gateway';

/**
 * SPEC §8: every admin mutation and every secret reveal leaves an audit
 * line. The route table names each one's action (routes.ts `audit`), so a
 * new admin route that changes something must name one too.
 */
describe('the admin route table audits every mutation and reveal', () => {
  const gateway = createGateway(loadConfig({ LIVE_PORT: 'off', SANDBOX_PORT: 'off', ADMIN_PORT: '0' }), { log: pino({ level: 'silent' }) });
  const routes = gateway.listeners.admin?.routes ?? [];
  afterAll(() => gateway.close());

  it('every admin route that changes something (not GET) declares its audit action', () => {
    const unaudited = routes.filter((r) => r.access !== undefined && r.method !== 'GET' && r.audit === undefined).map((r) => `${r.method} ${r.path}`);
    expect(routes.length).toBeGreaterThan(20);
    expect(unaudited).toEqual([]);
  });

  it('the identity-secret reveal is audited, and actions are SPEC §11 style type names', () => {
    expect(routes.find((r) => r.method === 'GET' && r.path.endsWith('/security'))?.audit).toBe('identity_secret.revealed');
    for (const route of routes) {
      if (typeof route.audit === 'string') expect(route.audit).toMatch(/^[a-z_]+(\.[a-z_]+)+$/);
      if (typeof route.audit === 'function') expect([route.audit(200), route.audit(201)]).toEqual(['user.updated', 'user.created']);
    }
  });
});
