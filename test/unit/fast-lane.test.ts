import { createServer, ServerResponse, IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { VerigateError } from '../../src/domain/errors';
import { createFastLane, type NodeHandler } from '../../src/http/fast-lane';
import { Pipeline, requestState } from '../../src/http/pipeline';
import { EXCHANGE_PATH } from '../../src/http/routes';
import { createMetrics } from '../../src/ops/metrics';

// The fast lane must answer exactly POST on the exchange path, on node's own
// request and response, through the pipeline; and hand everything else to
// the app behind it, untouched.

let server: Server;
let url: string;
const seen: string[] = [];
let exchange: NodeHandler;

/** Stands for the Express app: records what it was handed, answers 299. */
const app: RequestListener = (req, res) => {
  seen.push(`app ${req.method} ${req.url}`);
  res.statusCode = 299;
  res.end('app');
};

beforeAll(async () => {
  const pipeline = new Pipeline('live', pino({ level: 'silent' }), createMetrics());
  const lane = createFastLane(pipeline, (req, res) => exchange(req, res), app);
  server = createServer(lane);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  exchange = async (req, res) => {
    seen.push(`exchange ${req.method} ${req.url}`);
    pipeline.send(res, 200, 'application/json; charset=utf-8', JSON.stringify({
      nodeObjects: Object.getPrototypeOf(req) === IncomingMessage.prototype && Object.getPrototypeOf(res) === ServerResponse.prototype,
      route: requestState(res).route,
    }));
  };
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));
beforeEach(() => {
  seen.length = 0;
});

describe('createFastLane', () => {
  it('serves POST on the exchange path with node’s own request and response, tagged with the route', async () => {
    const res = await request(url).post(EXCHANGE_PATH).send({ a: 1 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ nodeObjects: true, route: EXCHANGE_PATH });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(seen).toEqual([`exchange POST ${EXCHANGE_PATH}`]);
  });

  it.each([
    ['another method', 'GET', EXCHANGE_PATH],
    ['a query string', 'POST', `${EXCHANGE_PATH}?x=1`],
    ['another case', 'POST', EXCHANGE_PATH.toUpperCase()],
    ['a trailing slash', 'POST', `${EXCHANGE_PATH}/`],
    ['another path', 'POST', '/live_api/v1/sessions'],
  ])('hands %s to the app, untouched', async (_label, method, path) => {
    const res = await request(url)[method.toLowerCase() as 'get' | 'post'](path);
    expect(res.status).toBe(299);
    expect(res.headers['x-request-id']).toBeUndefined();
    expect(seen).toEqual([`app ${method} ${path}`]);
  });

  it.each([
    ['a coded error', new VerigateError('missing_api_key', 'Send the key'), 401, 'missing_api_key'],
    ['anything else, as internal_error', new Error('a store message'), 500, 'internal_error'],
  ])('answers %s thrown by the handler as problem+json', async (_label, thrown, status, code) => {
    const saved = exchange;
    exchange = async () => {
      throw thrown;
    };
    try {
      const res = await request(url).post(EXCHANGE_PATH).set('X-Request-Id', 'req-1');
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-request-id']).toBe('req-1');
      expect(res.body).toMatchObject({ code, status, requestId: 'req-1' });
      expect(JSON.stringify(res.body)).not.toContain('a store message');
    } finally {
      exchange = saved;
    }
  });
});
