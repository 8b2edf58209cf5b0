import { randomUUID } from 'node:crypto';
import type request from 'supertest';
import { EXCHANGE_PATH } from '../../src/http/routes';
import { createLogger } from '../../src/ops/logger';
import { adminClient, checked, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';

/**
 * The exchange runs on a fast lane in front of Express (src/http/fast-lane.ts);
 * every other route on Express. Both must run the same pipeline
 * (src/http/pipeline.ts): the same headers, request id, problem+json, metrics
 * and log line. Three ways in: the exchange on the fast lane, the exchange
 * through Express (a query string makes the fast lane hand it on), and an
 * ordinary Express route.
 */

let gw: TestGateway;
let site: Provisioned;
let sessionToken: string;
let token: string;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  // The production logger, at debug so that good requests log too.
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  gw = await startGateway({ log });
  const admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1', { email: 'ada@example.com' });
  sessionToken = await admin.createSession(site.siteId, 'user-1');
  token = await verificationTokenFor(gw, 'live', sessionToken);
});
afterAll(() => gw.close());

type Way = 'fast lane' | 'exchange through Express' | 'Express route';
const WAYS: readonly Way[] = ['fast lane', 'exchange through Express', 'Express route'];

/** A good request (200) each way, with `requestId` as its X-Request-Id. */
async function good(way: Way, requestId: string): Promise<request.Response> {
  const http = gw.http('live');
  if (way === 'Express route') {
    return checked(await http.get('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`).set('X-Request-Id', requestId));
  }
  const path = way === 'fast lane' ? EXCHANGE_PATH : `${EXCHANGE_PATH}?via=express`;
  return checked(await http.post(path).set('X-API-KEY', site.apiKey).set('X-Request-Id', requestId).send({ userVerificationToken: token }));
}

/** A refused request (4xx problem, no extra headers) each way. */
async function refused(way: Way, requestId: string): Promise<request.Response> {
  const http = gw.http('live');
  if (way === 'Express route') return checked(await http.get('/no-such-endpoint').set('X-Request-Id', requestId));
  const path = way === 'fast lane' ? EXCHANGE_PATH : `${EXCHANGE_PATH}?via=express`;
  return checked(await http.post(path).set('X-Request-Id', requestId).send({ userVerificationToken: token }));
}

/** Header names, without what a route adds of its own (`Vary: Origin`: the browser routes' CORS step). */
const headerNames = (res: request.Response): string[] => Object.keys(res.headers).filter((n) => n !== 'vary').sort();
const logLine = (requestId: string): Record<string, unknown> => {
  const line = lines.find((l) => l.msg === 'request' && l.requestId === requestId);
  if (!line) throw new Error(`no log line for request ${requestId}`);
  return line;
};

describe('the fast lane and Express run one pipeline', () => {
  it('a good request answers with the same header set each way', async () => {
    const [lane, viaExpress, route] = await Promise.all(WAYS.map((way) => good(way, randomUUID())));
    for (const res of [lane, viaExpress, route]) expect(res?.status).toBe(200);
    // Less the exchange's own X-Verigate-Reusable-Until (a verified answer's, for @verigate/node's local mode).
    expect(headerNames(lane!).filter((n) => n !== 'x-verigate-reusable-until')).toEqual(headerNames(route!));
    expect(headerNames(viaExpress!)).toEqual(headerNames(lane!));
    // Not merely the same names: the security headers are helmet's, the same everywhere.
    for (const name of headerNames(route!).filter((n) => !['date', 'x-request-id', 'content-length'].includes(n))) {
      expect([name, route!.headers[name]]).toEqual([name, lane!.headers[name]]);
    }
    expect(lane!.headers['cache-control']).toBe('no-store');
    expect(viaExpress!.body).toEqual(lane!.body);
  });

  it('a refusal answers with the same header set each way, as problem+json', async () => {
    const [lane, viaExpress, route] = await Promise.all(WAYS.map((way) => refused(way, randomUUID())));
    expect([lane?.status, viaExpress?.status, route?.status]).toEqual([401, 401, 404]);
    // Less the exchange's own X-Verigate-Reusable-Until (a verified answer's, for @verigate/node's local mode).
    expect(headerNames(lane!).filter((n) => n !== 'x-verigate-reusable-until')).toEqual(headerNames(route!));
    expect(headerNames(viaExpress!)).toEqual(headerNames(lane!));
    for (const res of [lane!, viaExpress!, route!]) {
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.body.requestId).toBe(res.headers['x-request-id']);
    }
  });

  it('logs one line with the same fields each way, good or refused', async () => {
    const goodIds = WAYS.map(() => randomUUID());
    const refusedIds = WAYS.map(() => randomUUID());
    await Promise.all(WAYS.map((way, i) => good(way, goodIds[i] as string)));
    await Promise.all(WAYS.map((way, i) => refused(way, refusedIds[i] as string)));
    const fields = (id: string) => Object.keys(logLine(id)).sort();
    expect(fields(goodIds[0] as string)).toEqual(fields(goodIds[2] as string));
    expect(fields(goodIds[1] as string)).toEqual(fields(goodIds[0] as string));
    expect(fields(refusedIds[0] as string)).toEqual(fields(refusedIds[2] as string));
    expect(fields(refusedIds[1] as string)).toEqual(fields(refusedIds[0] as string));
    expect(logLine(goodIds[0] as string)).toMatchObject({ level: 'debug', listener: 'live', method: 'POST', route: EXCHANGE_PATH, status: 200 });
    expect(logLine(refusedIds[0] as string)).toMatchObject({ level: 'info', route: EXCHANGE_PATH, status: 401, code: 'missing_api_key' });
    expect(logLine(refusedIds[2] as string)).toMatchObject({ level: 'info', route: 'unmatched', status: 404, code: 'not_found' });
    for (const id of [...goodIds, ...refusedIds]) expect(lines.filter((l) => l.requestId === id)).toHaveLength(1);
  });

  it.each(WAYS)('%s: keeps a sane incoming request id and replaces anything else', async (way) => {
    expect((await good(way, 'abc.DEF_123-x')).headers['x-request-id']).toBe('abc.DEF_123-x');
    const replaced = (await good(way, 'not sane!')).headers['x-request-id'];
    expect(replaced).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('counts every way in the metrics, under its route pattern', async () => {
    const count = async (route: string, status: string): Promise<number> => {
      const res = await gw.http('admin').get('/metrics').set('Authorization', `Bearer ${gw.adminToken}`);
      const line = (res.text as string)
        .split('\n')
        .find((l) => l.startsWith(`verigate_http_requests_total{environment="live",route="${route}",method=`) && l.includes(`status="${status}"`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await count(EXCHANGE_PATH, '200');
    await good('fast lane', randomUUID());
    await good('exchange through Express', randomUUID());
    expect(await count(EXCHANGE_PATH, '200')).toBe(before + 2);
  });

  it('the Express app’s only app-level middleware are the pipeline’s: the fast lane cannot miss one', () => {
    const live = gw.gateway.listeners.live;
    if (!live) throw new Error('no live listener');
    const stack = (live.app as unknown as { router: { stack: { handle: unknown; route?: unknown }[] } }).router.stack;
    const beforeRoutes = stack.slice(0, stack.findIndex((layer) => layer.route !== undefined)).map((layer) => layer.handle);
    expect(beforeRoutes).toEqual([...live.pipeline.expressMiddleware]);
    expect(stack.at(-1)?.handle).toBe(live.pipeline.expressErrorHandler);
  });
});
