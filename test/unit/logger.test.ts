import { createLogger, requestSerializer } from '../../src/ops/logger';

/** A logger writing into an array of parsed JSON lines. */
function memoryLogger(level: Parameters<typeof createLogger>[0]['level'] = 'trace') {
  const lines: string[] = [];
  const log = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { log, lines, text: () => lines.join('') };
}

const SECRETS = {
  apiKey: 'vg_live_sk_SECRETapiKey000000000000000000000000',
  sessionToken: 'vg_live_st_SECRETsessionToken0000000000000000',
  userVerificationToken: 'eyJSECRETuserVerificationToken',
  identityToken: 'eyJSECRETidentityToken',
  identitySecret: 'vg_live_is_SECRETidentitySecret',
  token: 'SECRETtoken',
  password: 'SECRETpassword',
};

describe('createLogger', () => {
  it('writes JSON lines with service, level name and ISO time', () => {
    const { log, lines } = memoryLogger('info');
    log.info({ environment: 'live' }, 'listening');
    log.debug('not at info');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string);
    expect(line).toMatchObject({ service: 'verigate', level: 'info', msg: 'listening', environment: 'live' });
    expect(new Date(line.time).toISOString()).toBe(line.time);
    expect(lines[0]).toMatch(/\n$/);
  });

  it.each(Object.entries(SECRETS))('redacts %s at any depth', (field, secret) => {
    const { log, text } = memoryLogger();
    log.info({ [field]: secret }, 'top level');
    log.info({ body: { [field]: secret } }, 'one level down');
    log.info({ req: { body: { [field]: secret } } }, 'two levels down');
    log.info({ a: { b: { c: { [field]: secret } } } }, 'three levels down');
    log.child({ reqId: 'r1' }).warn({ result: { [field]: secret } }, 'child');
    expect(text()).not.toContain(secret);
    expect(text()).toContain('[redacted]');
    expect(text().split('\n').filter(Boolean)).toHaveLength(5);
  });

  it('drops credentials from request headers and query strings', () => {
    const { log, text } = memoryLogger();
    const req = {
      id: 'req-1',
      method: 'POST',
      url: '/live_api/s2s/v1/users/verification?token=SECRETquery',
      headers: {
        'x-api-key': SECRETS.apiKey,
        authorization: `Bearer ${SECRETS.sessionToken}`,
        cookie: 'sid=SECRETcookie',
        'user-agent': 'node',
      },
    };
    log.info({ req }, 'request');
    log.info({ request: { req: { headers: req.headers } } }, 'nested raw headers');
    log.info({ req: { headers: req.headers } }, 'headers only');
    log.info({ headers: req.headers }, 'top-level headers');
    log.info({ upstream: { res: { headers: { 'set-cookie': ['sid=SECRETcookie'] } } } }, 'response headers');
    const out = text();
    for (const secret of [SECRETS.apiKey, SECRETS.sessionToken, 'SECRETcookie', 'SECRETquery']) {
      expect(out).not.toContain(secret);
    }
    // Logging redacts a copy: the caller's objects keep their values.
    expect(req.headers['x-api-key']).toBe(SECRETS.apiKey);
    expect(JSON.parse(out.split('\n')[0] as string).req).toEqual({
      id: 'req-1',
      method: 'POST',
      path: '/live_api/s2s/v1/users/verification',
      headers: { 'user-agent': 'node' },
    });
  });

  it('redacts secrets carried by an error', () => {
    const { log, text } = memoryLogger();
    const err = Object.assign(new Error('exchange failed'), { apiKey: SECRETS.apiKey, token: SECRETS.token });
    log.error({ err }, 'failed');
    expect(text()).toContain('exchange failed');
    expect(text()).not.toContain(SECRETS.apiKey);
    expect(text()).not.toContain(SECRETS.token);
  });

  it('writes nothing at level silent', () => {
    const { log, lines } = memoryLogger('silent');
    log.fatal('x');
    expect(lines).toEqual([]);
  });
});

describe('requestSerializer', () => {
  it('copes with a bare object', () => {
    expect(requestSerializer({})).toEqual({ id: undefined, method: undefined, path: undefined, remoteAddress: undefined, headers: {} });
  });

  it('prefers originalUrl (express rewrites url under mounted routers)', () => {
    expect(requestSerializer({ url: '/x', originalUrl: '/admin/v1/live/x?a=1' }).path).toBe('/admin/v1/live/x');
  });
});
