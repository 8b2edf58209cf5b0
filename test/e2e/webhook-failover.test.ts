import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { endDeployment, httpClient, newDeployment, startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { testRedisUrl } from '../support/redis';
import { pollUntil } from '../support/poll';

/**
 * SPEC §11, at least once: pending deliveries live in the store, so when the
 * gateway process sending one is killed (SIGKILL, mid-request), another
 * instance of the deployment sends it once the dead one's lease runs out
 * (the 10 s time limit plus 5 s), and the deliveries list shows it.
 */
jest.setTimeout(90_000);

const deployment = newDeployment({ redisUrl: testRedisUrl() });
const processes: GatewayProcess[] = [];
afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL').catch(() => undefined)));
  await endDeployment(deployment);
});

it('a gateway killed mid-delivery leaves the delivery to another instance', async () => {
  const requests: { req: IncomingMessage; res: ServerResponse; body: string }[] = [];
  let arrived: () => void = () => {};
  const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
  let second: () => void = () => {};
  const secondArrived = new Promise<void>((resolve) => (second = resolve));
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ req, res, body });
      // The first request is never answered: its sender dies holding it.
      if (requests.length === 1) arrived();
      else {
        res.writeHead(200).end();
        second();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  try {
    const env = { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' };
    const a = await startGatewayProcess(deployment, { env });
    processes.push(a);
    const adminA = httpClient(a, deployment.adminToken);
    const site = await adminA.call('admin', 'POST', '/admin/v1/live/sites', { body: { name: 'Shop' } });
    expect(site.status).toBe(201);
    const siteId = String(site.body.siteId);
    const endpoint = await adminA.call('admin', 'POST', `/admin/v1/live/sites/${siteId}/webhook-endpoints`, {
      body: { url, eventTypes: ['user.created'] },
    });
    expect(endpoint.status).toBe(201);
    expect((await adminA.call('admin', 'PUT', `/admin/v1/live/sites/${siteId}/users/ada`, { body: {} })).status).toBe(201);
    await firstArrived;
    await a.stop('SIGKILL');

    const b = await startGatewayProcess(deployment, { env });
    processes.push(b);
    await secondArrived;
    expect(requests).toHaveLength(2);
    expect(requests[1]?.body).toBe(requests[0]?.body);
    expect(requests[1]?.req.headers['webhook-id']).toBe(requests[0]?.req.headers['webhook-id']);
    const adminB = httpClient(b, deployment.adminToken);
    const rows = await pollUntil(
      async () =>
        (await adminB.call('admin', 'GET', `/admin/v1/live/sites/${siteId}/webhook-endpoints/${String(endpoint.body.endpointId)}/deliveries`))
          .body.deliveries as { status: string; attempt: number }[],
      (list) => list[0]?.status === 'delivered',
      { what: 'the delivery to be recorded' },
    );
    // The killed sender recorded nothing: the one attempt listed is the survivor's.
    expect(rows.map((r) => [r.attempt, r.status])).toEqual([[1, 'delivered']]);
  } finally {
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
});
