import { availableParallelism } from 'node:os';
import { inspect } from 'node:util';
import { ConfigError, isLoopbackHost, loadConfig, redactedConfigSummary, redactUrl } from '../../src/config';

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const ADMIN_TOKEN = 'a'.repeat(40);
const REDIS_SECRETS = { VERIGATE_MASTER_KEY: MASTER_KEY, VERIGATE_ADMIN_TOKEN: ADMIN_TOKEN };

/** The problems loadConfig reports for `env` (fails the test if it does not throw). */
function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.code).toBe('invalid_config');
    for (const problem of configError.problems) expect(configError.message).toContain(problem);
    return configError.problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('serves all three listeners on the default ports, admin on loopback', () => {
    expect(config.listeners).toEqual({ live: 8080, sandbox: 8081, admin: 8090 });
    expect(config.adminHost).toBe('127.0.0.1');
  });

  it('derives the public URLs from the ports', () => {
    expect(config.publicUrls).toEqual({ live: 'http://localhost:8080', sandbox: 'http://localhost:8081' });
  });

  it('runs on the embedded store with generated secrets', () => {
    expect(config.store).toEqual({ kind: 'embedded' });
    expect(config.masterKey).toHaveLength(32);
    expect(config.masterKeyGenerated).toBe(true);
    expect(config.adminToken.length).toBeGreaterThanOrEqual(32);
    expect(config.adminTokenGenerated).toBe(true);
  });

  it('generates different secrets on each load', () => {
    const other = loadConfig({});
    expect(other.masterKey.equals(config.masterKey)).toBe(false);
    expect(other.adminToken).not.toBe(config.adminToken);
  });

  it('has the documented defaults for the rest', () => {
    expect(config).toMatchObject({
      keyPrefix: 'vg',
      logLevel: 'info',
      redisCommandTimeoutMs: 1000,
      shutdownGraceMs: 10000,
      workers: 1,
    });
  });

  it('is deep-frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listeners)).toBe(true);
    expect(Object.isFrozen(config.publicUrls)).toBe(true);
    expect(Object.isFrozen(config.store)).toBe(true);
  });

  it('treats blank values as unset', () => {
    const blank = loadConfig({ LIVE_PORT: '', REDIS_URL: '  ', LOG_LEVEL: '' });
    expect(blank.listeners.live).toBe(8080);
    expect(blank.store.kind).toBe('embedded');
    expect(blank.logLevel).toBe('info');
  });
});

describe('loadConfig values', () => {
  it('turns a listener off with "off"', () => {
    const config = loadConfig({ SANDBOX_PORT: 'off', ADMIN_PORT: 'OFF' });
    expect(config.listeners).toEqual({ live: 8080, sandbox: null, admin: null });
  });

  it('accepts port 0 (ephemeral)', () => {
    expect(loadConfig({ LIVE_PORT: '0', SANDBOX_PORT: '0', ADMIN_PORT: '0' }).listeners).toEqual({
      live: 0,
      sandbox: 0,
      admin: 0,
    });
  });

  it('uses the configured port in the default public URL', () => {
    expect(loadConfig({ LIVE_PORT: '9000' }).publicUrls.live).toBe('http://localhost:9000');
  });

  it('normalises public URLs and strips the trailing slash', () => {
    const config = loadConfig({ LIVE_PUBLIC_URL: 'HTTPS://API.Example.com/', SANDBOX_PUBLIC_URL: 'https://example.com/sandbox/' });
    expect(config.publicUrls).toEqual({ live: 'https://api.example.com', sandbox: 'https://example.com/sandbox' });
  });

  it('reads every other variable', () => {
    const config = loadConfig({
      ADMIN_HOST: '0.0.0.0',
      REDIS_KEY_PREFIX: 'acme_vg-1',
      LOG_LEVEL: 'debug',
      REDIS_COMMAND_TIMEOUT_MS: '250',
      SHUTDOWN_GRACE_MS: '0',
      ...REDIS_SECRETS,
    });
    expect(config).toMatchObject({
      adminHost: '0.0.0.0',
      keyPrefix: 'acme_vg-1',
      logLevel: 'debug',
      redisCommandTimeoutMs: 250,
      shutdownGraceMs: 0,
      adminToken: ADMIN_TOKEN,
      adminTokenGenerated: false,
      masterKeyGenerated: false,
    });
    expect(config.masterKey.equals(Buffer.alloc(32, 7))).toBe(true);
  });

  it('accepts the master key as base64url without padding', () => {
    const bytes = Buffer.alloc(32, 0xfb); // encodes with '+'/'/' in base64, '-'/'_' in base64url
    const config = loadConfig({ VERIGATE_MASTER_KEY: bytes.toString('base64url') });
    expect(config.masterKey.equals(bytes)).toBe(true);
  });
});

describe('loadConfig stores', () => {
  it('uses REDIS_URL for both environments', () => {
    const config = loadConfig({ REDIS_URL: 'redis://redis:6379', ...REDIS_SECRETS });
    expect(config.store).toEqual({ kind: 'redis', urls: { live: 'redis://redis:6379', sandbox: 'redis://redis:6379' } });
  });

  it('lets LIVE_REDIS_URL and SANDBOX_REDIS_URL override REDIS_URL', () => {
    const config = loadConfig({ REDIS_URL: 'redis://shared:6379', LIVE_REDIS_URL: 'rediss://live:6380', ...REDIS_SECRETS });
    expect(config.store).toEqual({ kind: 'redis', urls: { live: 'rediss://live:6380', sandbox: 'redis://shared:6379' } });
  });

  it('needs a URL for every environment whose listener is on', () => {
    const problems = problemsOf({ LIVE_REDIS_URL: 'redis://live:6379', ...REDIS_SECRETS });
    expect(problems).toEqual([expect.stringMatching(/^SANDBOX_REDIS_URL .*LIVE_REDIS_URL/)]);
  });

  it('leaves an environment without URL when its listener and the admin listener are off', () => {
    const config = loadConfig({ LIVE_REDIS_URL: 'redis://live:6379', SANDBOX_PORT: 'off', ADMIN_PORT: 'off', ...REDIS_SECRETS });
    expect(config.store).toEqual({ kind: 'redis', urls: { live: 'redis://live:6379', sandbox: '' } });
  });

  /** One cluster target for both environments, as REDIS_CLUSTER_NODES alone gives. */
  const both = <T>(cluster: T) => ({ kind: 'cluster', clusters: { live: cluster, sandbox: cluster } });

  it('parses REDIS_CLUSTER_NODES, for both environments', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000, r2:7001,[::1]:7002', ...REDIS_SECRETS });
    expect(config.store).toEqual(
      both({
        nodes: [
          { host: 'r1', port: 7000 },
          { host: 'r2', port: 7001 },
          { host: '::1', port: 7002 },
        ],
      }),
    );
  });

  it('reads REDIS_CLUSTER_NODES URL entries: one ACL user for every node, plain entries included', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: 'redis://verigate-live:p%40ss@r1:7000, r2:7001,redis://verigate-live:p%40ss@[::1]:7002/',
      ...REDIS_SECRETS,
    });
    expect(config.store).toEqual(
      both({
        nodes: [
          { host: 'r1', port: 7000 },
          { host: 'r2', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        username: 'verigate-live',
        password: 'p@ss',
      }),
    );
  });

  it('reads rediss:// as TLS, and a password alone as the default user', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'rediss://:s3cret@r1:7000,rediss://:s3cret@r2:7001', ...REDIS_SECRETS });
    expect(config.store).toEqual(
      both({
        nodes: [
          { host: 'r1', port: 7000 },
          { host: 'r2', port: 7001 },
        ],
        password: 's3cret',
        tls: true,
      }),
    );
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://r1:7000', ...REDIS_SECRETS }).store).toEqual(
      both({ nodes: [{ host: 'r1', port: 7000 }], tls: true }),
    );
  });

  it.each([
    ['another password', 'redis://u:pw-one@r1:7000,redis://u:pw-two@r2:7001'],
    ['another user', 'redis://u:pw-one@r1:7000,redis://v:pw-one@r2:7001'],
    ['another scheme', 'redis://u:pw-one@r1:7000,rediss://u:pw-one@r2:7001'],
    ['a password on one URL only', 'redis://u:pw-one@r1:7000,redis://r2:7001'],
  ])('refuses REDIS_CLUSTER_NODES URL entries with %s, without quoting any password', (_, value) => {
    const problems = problemsOf({ REDIS_CLUSTER_NODES: value, ...REDIS_SECRETS });
    expect(problems).toEqual([
      'REDIS_CLUSTER_NODES URL entries must all have the same scheme, username and password (one set of credentials for the cluster)',
    ]);
  });

  it('refuses plain entries next to URL entries that carry no credentials', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'rediss://r1:7000,r2:7001', ...REDIS_SECRETS })).toEqual([
      expect.stringMatching(/^REDIS_CLUSTER_NODES mixes host:port entries with URL entries that carry no username or password/),
    ]);
  });

  it.each([
    'redis://u:pw-one@r1',
    'redis://u:pw-one@r1:7000/1',
    'redis://u:pw-one@r1:7000?password=pw-one',
    'redis://u:pw-one@:7000',
    'http://u:pw-one@r1:7000',
    'u:pw-one@r1:7000',
    'redis://u:pw-one@r1:7000,,r2:7001',
    'redis://u:pw-one%zz@r1:7000',
  ])('refuses the malformed REDIS_CLUSTER_NODES %s without quoting the password', (value) => {
    const problems = problemsOf({ REDIS_CLUSTER_NODES: value, ...REDIS_SECRETS });
    expect(problems).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES must be a comma-separated list of host:port or redis:\/\//)]);
    expect(problems.join('\n')).not.toContain('pw-one');
  });

  describe('LIVE_REDIS_CLUSTER_NODES and SANDBOX_REDIS_CLUSTER_NODES', () => {
    const LIVE = 'redis://verigate-live:live-pw@r1:7000,redis://verigate-live:live-pw@r2:7001';
    const SANDBOX = 'redis://verigate-sandbox:sandbox-pw@r1:7000';
    const liveTarget = { nodes: [{ host: 'r1', port: 7000 }, { host: 'r2', port: 7001 }], username: 'verigate-live', password: 'live-pw' };
    const sandboxTarget = { nodes: [{ host: 'r1', port: 7000 }], username: 'verigate-sandbox', password: 'sandbox-pw' };

    it('give each environment its own user on one cluster (or its own cluster)', () => {
      const config = loadConfig({ LIVE_REDIS_CLUSTER_NODES: LIVE, SANDBOX_REDIS_CLUSTER_NODES: SANDBOX, ...REDIS_SECRETS });
      expect(config.store).toEqual({ kind: 'cluster', clusters: { live: liveTarget, sandbox: sandboxTarget } });
    });

    it('fall back to REDIS_CLUSTER_NODES, each on its own', () => {
      const config = loadConfig({ REDIS_CLUSTER_NODES: 'shared:7000', SANDBOX_REDIS_CLUSTER_NODES: SANDBOX, ...REDIS_SECRETS });
      expect(config.store).toEqual({ kind: 'cluster', clusters: { live: { nodes: [{ host: 'shared', port: 7000 }] }, sandbox: sandboxTarget } });
    });

    it('need a cluster for every environment whose listener is on', () => {
      expect(problemsOf({ LIVE_REDIS_CLUSTER_NODES: LIVE, ...REDIS_SECRETS })).toEqual([
        'SANDBOX_REDIS_CLUSTER_NODES (or REDIS_CLUSTER_NODES) is required when LIVE_REDIS_CLUSTER_NODES is set and SANDBOX_PORT or ADMIN_PORT is not "off": sandbox must not fall back to the embedded store',
      ]);
      expect(problemsOf({ SANDBOX_REDIS_CLUSTER_NODES: SANDBOX, ...REDIS_SECRETS })).toEqual([
        expect.stringMatching(/^LIVE_REDIS_CLUSTER_NODES \(or REDIS_CLUSTER_NODES\) is required when SANDBOX_REDIS_CLUSTER_NODES is set/),
      ]);
    });

    it('leave an environment without a cluster when its listener and the admin listener are off', () => {
      const config = loadConfig({ LIVE_REDIS_CLUSTER_NODES: LIVE, SANDBOX_PORT: 'off', ADMIN_PORT: 'off', ...REDIS_SECRETS });
      expect(config.store).toEqual({ kind: 'cluster', clusters: { live: liveTarget, sandbox: null } });
    });

    it.each([
      ['LIVE_REDIS_CLUSTER_NODES', 'r1:7000,r2'],
      ['SANDBOX_REDIS_CLUSTER_NODES', 'redis://u:pw-one@r1:7000,redis://u:pw-two@r2:7001'],
    ])('validate %s with the same grammar, naming the variable and quoting no password', (name, value) => {
      const other = name === 'LIVE_REDIS_CLUSTER_NODES' ? { SANDBOX_REDIS_CLUSTER_NODES: SANDBOX } : { LIVE_REDIS_CLUSTER_NODES: LIVE };
      const problems = problemsOf({ [name]: value, ...other, ...REDIS_SECRETS });
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^${name} (must be a comma-separated list|URL entries must all have the same)`))]);
      expect(problems.join('\n')).not.toMatch(/pw-one|pw-two/);
    });

    it.each([
      [{ LIVE_REDIS_CLUSTER_NODES: LIVE, SANDBOX_REDIS_URL: 'redis://s:6379' }, /^LIVE_REDIS_CLUSTER_NODES cannot be combined with SANDBOX_REDIS_URL: set one or the other$/],
      [{ SANDBOX_REDIS_CLUSTER_NODES: SANDBOX, REDIS_URL: 'redis://r:6379' }, /^SANDBOX_REDIS_CLUSTER_NODES cannot be combined with REDIS_URL/],
    ])('cannot be combined with the *REDIS_URL variables (%o)', (env, message) => {
      expect(problemsOf({ ...env, ...REDIS_SECRETS })).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
    });

    it('need the master key and admin token, like any Redis', () => {
      expect(problemsOf({ LIVE_REDIS_CLUSTER_NODES: LIVE, SANDBOX_REDIS_CLUSTER_NODES: SANDBOX })).toEqual([
        expect.stringMatching(/^VERIGATE_MASTER_KEY is required/),
        expect.stringMatching(/^VERIGATE_ADMIN_TOKEN is required/),
      ]);
    });

    it('show each environment’s user but never a password', () => {
      const config = loadConfig({ LIVE_REDIS_CLUSTER_NODES: LIVE, SANDBOX_REDIS_CLUSTER_NODES: SANDBOX, ...REDIS_SECRETS });
      expect(redactedConfigSummary(config).store).toEqual({
        kind: 'cluster',
        clusters: {
          live: { nodes: ['r1:7000', 'r2:7001'], username: 'verigate-live', password: '***' },
          sandbox: { nodes: ['r1:7000'], username: 'verigate-sandbox', password: '***' },
        },
      });
      const printed = [JSON.stringify(redactedConfigSummary(config)), JSON.stringify(config), inspect(config)].join('\n');
      expect(printed).not.toMatch(/live-pw|sandbox-pw/);
    });
  });

  it('refuses REDIS_CLUSTER_NODES together with a Redis URL', () => {
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'r1:7000', REDIS_URL: 'redis://r:6379', ...REDIS_SECRETS })).toEqual([
      expect.stringMatching(/^REDIS_CLUSTER_NODES cannot be combined with REDIS_URL/),
    ]);
  });

  it.each([
    ['REDIS_URL', 'redis://redis:6379'],
    ['LIVE_REDIS_URL', 'redis://redis:6379'],
    ['REDIS_CLUSTER_NODES', 'r1:7000'],
  ])('requires the master key and admin token with %s', (name, value) => {
    const env = { [name]: value, ...(name === 'LIVE_REDIS_URL' ? { SANDBOX_PORT: 'off', ADMIN_PORT: 'off' } : {}) };
    expect(problemsOf(env)).toEqual([
      expect.stringMatching(/^VERIGATE_MASTER_KEY is required when REDIS_URL or REDIS_CLUSTER_NODES is set/),
      expect.stringMatching(/^VERIGATE_ADMIN_TOKEN is required when REDIS_URL or REDIS_CLUSTER_NODES is set/),
    ]);
  });

  it('never generates secrets for Redis, even when one of them is given', () => {
    expect(problemsOf({ REDIS_URL: 'redis://r:6379', VERIGATE_MASTER_KEY: MASTER_KEY })).toEqual([
      expect.stringMatching(/^VERIGATE_ADMIN_TOKEN is required/),
    ]);
    expect(problemsOf({ REDIS_URL: 'redis://r:6379', VERIGATE_ADMIN_TOKEN: ADMIN_TOKEN })).toEqual([
      expect.stringMatching(/^VERIGATE_MASTER_KEY is required/),
    ]);
  });

  it('still applies the Redis rules when the Redis URL itself is malformed', () => {
    const problems = problemsOf({ REDIS_URL: 'http://r:6379' });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('allows more than one worker only with Redis', () => {
    expect(problemsOf({ WORKERS: '4' })).toEqual([expect.stringMatching(/^WORKERS must be 1 on the embedded store/)]);
    expect(loadConfig({ WORKERS: '4', REDIS_URL: 'redis://r:6379', ...REDIS_SECRETS }).workers).toBe(4);
  });

  it('defaults WORKERS to one per core in production on Redis, else 1', () => {
    const redis = { REDIS_URL: 'redis://r:6379', ...REDIS_SECRETS };
    expect(loadConfig({ ...redis, NODE_ENV: 'production' }).workers).toBe(availableParallelism());
    expect(loadConfig({ ...redis, NODE_ENV: 'production', WORKERS: '1' }).workers).toBe(1);
    expect(loadConfig(redis).workers).toBe(1);
    // The embedded store keeps one process: its data lives in it.
    expect(loadConfig({ NODE_ENV: 'production' }).workers).toBe(1);
  });
});

describe('loadConfig problems', () => {
  it.each([
    ['LIVE_PORT', 'eighty', /^LIVE_PORT must be a port number \(1-65535\) or "off"/],
    ['SANDBOX_PORT', '65536', /^SANDBOX_PORT must be a port number/],
    ['ADMIN_PORT', '-1', /^ADMIN_PORT must be a port number/],
    ['ADMIN_HOST', 'not a host', /^ADMIN_HOST must be/],
    ['LIVE_PUBLIC_URL', 'ftp://example.com', /^LIVE_PUBLIC_URL must be an http:\/\/ or https:\/\/ URL/],
    ['SANDBOX_PUBLIC_URL', 'example.com', /^SANDBOX_PUBLIC_URL must be/],
    ['LIVE_PUBLIC_URL', 'https://example.com/?x=1', /^LIVE_PUBLIC_URL must be a URL without query/],
    ['REDIS_URL', 'localhost:6379', /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    ['REDIS_CLUSTER_NODES', 'r1:7000,r2', /^REDIS_CLUSTER_NODES must be a comma-separated list of host:port/],
    ['REDIS_KEY_PREFIX', 'vg:live', /^REDIS_KEY_PREFIX must be 1-32 characters/],
    ['REDIS_KEY_PREFIX', 'x'.repeat(33), /^REDIS_KEY_PREFIX must be 1-32 characters/],
    ['VERIGATE_MASTER_KEY', Buffer.alloc(31).toString('base64'), /^VERIGATE_MASTER_KEY must be exactly 32 bytes/],
    ['VERIGATE_MASTER_KEY', `${MASTER_KEY.slice(0, 10)}!${MASTER_KEY.slice(11)}`, /^VERIGATE_MASTER_KEY must be exactly 32 bytes/],
    ['VERIGATE_ADMIN_TOKEN', 'short', /^VERIGATE_ADMIN_TOKEN must be at least 32/],
    ['VERIGATE_ADMIN_TOKEN', `${'a'.repeat(20)} ${'b'.repeat(20)}`, /^VERIGATE_ADMIN_TOKEN must be at least 32 printable ASCII characters without spaces/],
    ['LOG_LEVEL', 'verbose', /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
    ['REDIS_COMMAND_TIMEOUT_MS', '0', /^REDIS_COMMAND_TIMEOUT_MS must be an integer/],
    ['SHUTDOWN_GRACE_MS', '1.5', /^SHUTDOWN_GRACE_MS must be an integer/],
    ['WORKERS', '0', /^WORKERS must be an integer from 1/],
  ])('names %s when it is %j', (name, value, message) => {
    // A Redis variable, even malformed, also asks for the secrets: give them.
    const secrets = name.startsWith('REDIS_') && name !== 'REDIS_KEY_PREFIX' ? REDIS_SECRETS : {};
    expect(problemsOf({ [name]: value, ...secrets })).toEqual([expect.stringMatching(message)]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({ LIVE_PORT: 'x', LOG_LEVEL: 'loud', REDIS_KEY_PREFIX: 'a b', WORKERS: 'many' });
    expect(problems).toHaveLength(4);
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['LIVE_PORT', 'REDIS_KEY_PREFIX', 'LOG_LEVEL', 'WORKERS']);
  });

  it('refuses two listeners on one port', () => {
    expect(problemsOf({ SANDBOX_PORT: '8080' })).toEqual(['LIVE_PORT and SANDBOX_PORT must be different ports (both are 8080)']);
  });

  it('refuses turning every listener off', () => {
    expect(problemsOf({ LIVE_PORT: 'off', SANDBOX_PORT: 'off', ADMIN_PORT: 'off' })).toEqual([
      expect.stringMatching(/^LIVE_PORT, SANDBOX_PORT and ADMIN_PORT are all "off"/),
    ]);
  });

  it('never quotes secrets or URL passwords in problems', () => {
    const secret = 'hunter2hunter2';
    const problems = problemsOf({
      REDIS_URL: `http://user:${secret}@r:6379`,
      VERIGATE_MASTER_KEY: `${secret}!`,
      VERIGATE_ADMIN_TOKEN: secret,
      LIVE_PUBLIC_URL: `https://user:${secret}@example.com`,
    });
    expect(problems.join('\n')).not.toContain(secret);
  });
});

describe('redactedConfigSummary', () => {
  const config = loadConfig({
    LIVE_REDIS_URL: 'redis://verigate-live:live-password@redis:6379',
    SANDBOX_REDIS_URL: 'rediss://:sandbox-password@redis:6380?password=query-password',
    ADMIN_PORT: 'off',
    ...REDIS_SECRETS,
  });
  const secrets = ['live-password', 'sandbox-password', 'query-password', ADMIN_TOKEN, MASTER_KEY];

  it('replaces URL passwords with ***', () => {
    expect(redactedConfigSummary(config).store).toEqual({
      kind: 'redis',
      urls: { live: 'redis://verigate-live:***@redis:6379', sandbox: 'rediss://:***@redis:6380?password=***' },
    });
  });

  it('contains no secret', () => {
    const summary = JSON.stringify(redactedConfigSummary(config));
    for (const secret of secrets) expect(summary).not.toContain(secret);
    expect(redactedConfigSummary(config)).toMatchObject({ masterKey: 'set', adminToken: 'set', listeners: { admin: 'off' } });
  });

  it('is what the config itself prints as', () => {
    const printed = [JSON.stringify(config), inspect(config), JSON.stringify({ config })].join('\n');
    for (const secret of secrets) expect(printed).not.toContain(secret);
    expect(JSON.parse(JSON.stringify(config))).toEqual(redactedConfigSummary(config));
  });

  it('describes cluster nodes as host:port', () => {
    const cluster = loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000,[::1]:7001', ...REDIS_SECRETS });
    const nodes = { nodes: ['r1:7000', '[::1]:7001'] };
    expect(redactedConfigSummary(cluster).store).toEqual({ kind: 'cluster', clusters: { live: nodes, sandbox: nodes } });
  });

  it('shows a cluster’s user and TLS but never its password, nor does a ConfigError', () => {
    const password = 'cluster-pw-9f1c';
    const cluster = loadConfig({ REDIS_CLUSTER_NODES: `rediss://verigate-live:${password}@r1:7000,r2:7001`, ...REDIS_SECRETS });
    const shown = { nodes: ['r1:7000', 'r2:7001'], username: 'verigate-live', password: '***', tls: true };
    expect(redactedConfigSummary(cluster).store).toEqual({ kind: 'cluster', clusters: { live: shown, sandbox: shown } });
    const printed = [JSON.stringify(redactedConfigSummary(cluster)), JSON.stringify(cluster), inspect(cluster)].join('\n');
    expect(printed).not.toContain(password);

    for (const value of [
      `rediss://verigate-live:${password}@r1:7000,rediss://verigate-live:other@r2:7001`,
      `redis://verigate-live:${password}@r1:7000/2`,
      `redis://verigate-live:${password}@r1:7000,${password}`,
      `redis://verigate-live:a,${password},b@r1:7000`,
    ]) {
      let error: unknown;
      try {
        loadConfig({ REDIS_CLUSTER_NODES: value, ...REDIS_SECRETS });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(/REDIS_CLUSTER_NODES/);
      expect([(error as ConfigError).message, ...(error as ConfigError).problems, inspect(error)].join('\n')).not.toContain(password);
    }
  });

  it('leaves password-free URLs as they are', () => {
    expect(redactUrl('redis://redis:6379')).toBe('redis://redis:6379');
    expect(redactUrl('not a url')).toBe('[unparseable URL]');
  });
});

describe('loadConfig rate limits', () => {
  it('has the documented defaults, each a count per minute', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      signInPerAddress: 60,
      signInFailuresPerSite: 600,
      sessionPerAddress: 600,
      failedApiKeysPerAddress: 100,
      exchangePerApiKey: 200_000,
      adminFailuresPerAddress: 20,
    });
  });

  it('reads each limit from its variable', () => {
    const config = loadConfig({
      RATE_LIMIT_SIGN_IN_PER_ADDRESS: '5',
      RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE: '6',
      RATE_LIMIT_SESSION_PER_ADDRESS: '9',
      RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS: '7',
      RATE_LIMIT_EXCHANGE_PER_API_KEY: '8',
      RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS: '10',
    });
    expect(config.rateLimits).toEqual({
      signInPerAddress: 5,
      signInFailuresPerSite: 6,
      sessionPerAddress: 9,
      failedApiKeysPerAddress: 7,
      exchangePerApiKey: 8,
      adminFailuresPerAddress: 10,
    });
    expect(redactedConfigSummary(config).rateLimits).toEqual(config.rateLimits);
  });

  it('refuses the retired RATE_LIMIT_SIGN_IN_PER_SITE, naming its successor', () => {
    expect(problemsOf({ RATE_LIMIT_SIGN_IN_PER_SITE: '6000' })).toEqual([
      'RATE_LIMIT_SIGN_IN_PER_SITE is gone: sign-ins per site now count only refusals; set RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE (default 600) instead',
    ]);
  });

  it.each([
    ['RATE_LIMIT_SIGN_IN_PER_ADDRESS', '0'],
    ['RATE_LIMIT_SIGN_IN_FAILURES_PER_SITE', 'lots'],
    ['RATE_LIMIT_SESSION_PER_ADDRESS', '0x10'],
    ['RATE_LIMIT_FAILED_API_KEYS_PER_ADDRESS', '-1'],
    ['RATE_LIMIT_EXCHANGE_PER_API_KEY', '1.5'],
    ['RATE_LIMIT_ADMIN_FAILURES_PER_ADDRESS', '20/min'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(problemsOf({ [name]: value })).toEqual([
      `${name} must be an integer from 1 to 100000000 (a count per minute), got ${JSON.stringify(value)}`,
    ]);
  });
});

describe('loadConfig TRUST_PROXY (SPEC §7)', () => {
  it('defaults to trusting no proxy; false and 0 say the same', () => {
    for (const env of [{}, { TRUST_PROXY: 'false' }, { TRUST_PROXY: 'FALSE' }, { TRUST_PROXY: '0' }, { TRUST_PROXY: ' ' }]) {
      expect(loadConfig(env).trustProxy).toEqual({ kind: 'none' });
    }
  });

  it('reads a hop count and a list of addresses, ranges and the words', () => {
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toEqual({ kind: 'hops', hops: 2 });
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,2001:db8::/32, linklocal,uniquelocal,192.0.2.7' }).trustProxy).toEqual({
      kind: 'list',
      entries: ['loopback', '10.0.0.0/8', '2001:db8::/32', 'linklocal', 'uniquelocal', '192.0.2.7'],
    });
    expect(redactedConfigSummary(loadConfig({ TRUST_PROXY: '1' })).trustProxy).toEqual({ kind: 'hops', hops: 1 });
  });

  it('refuses true, naming TRUST_PROXY and why', () => {
    for (const value of ['true', 'TRUE', 'True']) {
      const problems = problemsOf({ TRUST_PROXY: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^TRUST_PROXY=true is refused: it would let any client choose its own address/);
    }
  });

  it.each(['everyone', '10.0.0.0/33', '300.1.1.1', 'loopback,,10.0.0.1', '33', '*'])('refuses TRUST_PROXY=%s, naming the variable', (value) => {
    const problems = problemsOf({ TRUST_PROXY: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^TRUST_PROXY must be false, a hop count/);
  });
});

describe('isLoopbackHost (the ADMIN_HOST warning)', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', 'localhost', 'LOCALHOST'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', 'admin.internal', '::2', '128.0.0.1'])('%s is not', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});
