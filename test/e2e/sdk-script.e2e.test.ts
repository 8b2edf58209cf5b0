/**
 * GET /sdk/v1/verigate.js on a real gateway process: the script of
 * @verigate/browser's build (packages/browser/dist/verigate.js), in the
 * encoding the client asks for (brotli, gzip or plain), with a strong ETag
 * per representation and 304 on If-None-Match. Raw bytes are read with
 * node:http (fetch would decompress them), and every answer is checked
 * against openapi.yaml.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { endDeployment, newDeployment, startGatewayProcess, type Deployment, type GatewayProcess } from '../support/gateway-process';
import { expectResponseToMatchSpec } from '../support/openapi';
import { testRedisUrl } from '../support/redis';
import { compressSdkScript } from '../../src/http/sdk-script';

const ROOT = resolve(__dirname, '../..');
const PATH = '/sdk/v1/verigate.js';

let gateway: GatewayProcess;
let deployment: Deployment | undefined;
let script: Buffer;

beforeAll(async () => {
  execFileSync(process.execPath, ['scripts/build-sdk.js', 'browser', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  script = readFileSync(resolve(ROOT, 'packages/browser/dist/verigate.js'));
  deployment = newDeployment({ redisUrl: testRedisUrl() });
  gateway = await startGatewayProcess(deployment, { env: { LOG_LEVEL: 'warn' } });
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  if (deployment) await endDeployment(deployment);
});

interface Raw {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

function get(headers: Record<string, string>, listener: 'live' | 'sandbox' = 'live'): Promise<Raw> {
  const method = 'GET';
  return new Promise((ok, fail) => {
    const req = request(`${gateway.urls[listener]}${PATH}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const answer = { status: res.statusCode ?? 0, headers: res.headers as Record<string, string | undefined>, body: Buffer.concat(chunks) };
        try {
          expectResponseToMatchSpec({ ...answer, body: undefined, text: answer.body.length > 0 ? '…' : '', req: { method, path: PATH } });
          ok(answer);
        } catch (err) {
          fail(err);
        }
      });
    });
    req.once('error', fail);
    req.end();
  });
}

it.each([
  ['br', 'br', brotliDecompressSync],
  ['gzip', 'gzip', gunzipSync],
  ['gzip, deflate, br, zstd', 'br', brotliDecompressSync], // Chromium's: a tie, the server prefers brotli
  ['br;q=0.5, gzip', 'gzip', gunzipSync], // q-values are honoured
])('Accept-Encoding %j: %s, decompressing to the build', async (accept, encoding, decompress) => {
  for (const listener of ['live', 'sandbox'] as const) {
    const res = await get({ 'Accept-Encoding': accept }, listener);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe(encoding);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['vary']).toBe('Accept-Encoding');
    expect(res.headers['etag']).toMatch(new RegExp(`^"[A-Za-z0-9_-]+-${encoding}"$`));
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.length).toBeLessThan(script.length / 2);
    expect(decompress(res.body).equals(script)).toBe(true);
  }
});

it.each([[{}], [{ 'Accept-Encoding': 'identity' }], [{ 'Accept-Encoding': 'deflate' }], [{ 'Accept-Encoding': 'gzip;q=0, br;q=0' }]])(
  'plain for %j, with its own ETag',
  async (headers) => {
    const res = await get(headers);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['etag']).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.body.equals(script)).toBe(true);
  },
);

describe('If-None-Match', () => {
  it('304 with no body for the ETag of the representation asked for, weak or strong, and for *', async () => {
    const { headers } = await get({ 'Accept-Encoding': 'br' });
    const etag = headers['etag'] as string;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await get({ 'Accept-Encoding': 'br', 'If-None-Match': ifNoneMatch });
      expect(res.status).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers['etag']).toBe(etag);
    }
  });

  it('200 when the ETag is of another encoding, or of another build', async () => {
    const gzip = (await get({ 'Accept-Encoding': 'gzip' })).headers['etag'] as string;
    const res = await get({ 'Accept-Encoding': 'br', 'If-None-Match': gzip });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect((await get({ 'Accept-Encoding': 'br', 'If-None-Match': '"stale-br"' })).status).toBe(200);
  });
});

it('the ETags follow the content: another script, other ETags; one per encoding', () => {
  const a = compressSdkScript('window.a = 1;');
  const b = compressSdkScript('window.a = 2;');
  const etags = (m: ReturnType<typeof compressSdkScript>) => [...m.values()].map((r) => r.etag);
  expect(new Set(etags(a)).size).toBe(3);
  expect(etags(a).filter((etag) => etags(b).includes(etag))).toEqual([]);
  expect(compressSdkScript('window.a = 1;').get('br')?.etag).toBe(a.get('br')?.etag);
});
