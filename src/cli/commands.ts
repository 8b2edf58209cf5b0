/**
 * Every `verigate` command: its options, its help line, and what it does
 * with the admin API. A command returns what it prints: `json` for
 * `--json`, `text` for a person.
 */
import { AdminApiError, type AdminClient } from './admin-client';

export type Environment = 'live' | 'sandbox';

/** A usage mistake: exit code 2, before anything is sent. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** Shown in the help: what the value is. */
  readonly value?: string;
  readonly required?: boolean;
  readonly help: string;
}

export interface Output {
  readonly json: unknown;
  readonly text: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  run(client: AdminClient, values: Values): Promise<Output>;
}

interface Site {
  siteId: string;
  name: string;
  environment: Environment;
  allowedOrigins: string[];
  publishableKey: string;
  createdAt: string;
}
interface ApiKey {
  keyId: string;
  siteId: string;
  name: string;
  last4: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}
interface User {
  userId: string;
  email: string | null;
  name: string | null;
  productAccess: { productId: string; expiresAt: string | null }[];
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}
interface AdminToken {
  tokenId: string;
  name: string;
  role: 'read' | 'write';
  environments: Environment[];
  siteIds: string[] | null;
  createdAt: string;
  last4: string;
}

const ENV_OPTION: OptionSpec = { type: 'string', value: 'live|sandbox', help: 'environment (default sandbox)' };
const SITE_OPTION: OptionSpec = { type: 'string', value: 'SITE_ID', required: true, help: 'the site (site_…)' };
const USER_OPTION: OptionSpec = { type: 'string', value: 'USER_ID', required: true, help: "the customer's user id" };

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

function need(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

function environmentOf(value: string): Environment {
  if (value !== 'live' && value !== 'sandbox') throw new UsageError(`--env must be live or sandbox, not ${JSON.stringify(value)}`);
  return value;
}

/** The one environment a command acts in: `--env`, default sandbox (where a slip costs nothing). */
function env(values: Values): Environment {
  const given = list(values, 'env');
  if (given.length > 1) throw new UsageError('give --env once');
  return environmentOf(given[0] ?? 'sandbox');
}

/** `--expires-at`: an ISO 8601 instant, sent as given (the gateway refuses one in the past). */
function instant(values: Values, name: string): string | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  if (Number.isNaN(Date.parse(v)) || !/^\d{4}-\d{2}-\d{2}T/.test(v)) {
    throw new UsageError(`--${name} must be an ISO 8601 date-time, like 2030-01-31T00:00:00Z`);
  }
  return v;
}

function seconds(values: Values, name: string, fallback: number): number {
  const v = str(values, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number of seconds`);
  return Number(v);
}

const when = (iso: string | null, none = 'never'): string => iso ?? none;

function userText(user: User): string {
  const products = user.productAccess.length
    ? user.productAccess.map((p) => `  ${p.productId}${p.expiresAt ? ` (until ${p.expiresAt})` : ''}`).join('\n')
    : '  none';
  return [
    `User ${user.userId}`,
    `  email:   ${user.email ?? '-'}`,
    `  name:    ${user.name ?? '-'}`,
    `  created: ${user.createdAt}`,
    `  updated: ${user.updatedAt}`,
    'Product access:',
    products,
  ].join('\n');
}

function keyText(key: ApiKey, env: Environment): string {
  const state = key.revokedAt ? `revoked ${key.revokedAt}` : key.expiresAt ? `expires ${key.expiresAt}` : 'active';
  return `${key.keyId}  ${key.name}  vg_${env}_sk_…${key.last4}  ${state}  last used ${when(key.lastUsedAt)}`;
}

/** A `.env` line; values are credentials and URLs (no spaces or quotes), written bare. */
const envLine = (name: string, value: string): string => `${name}=${value}`;

const sitesCreate: Command = {
  name: 'sites create',
  summary: 'create a site and its first API key; prints a ready .env block',
  options: {
    env: ENV_OPTION,
    name: { type: 'string', value: 'NAME', required: true, help: 'the site name' },
    origin: { type: 'string', multiple: true, value: 'ORIGIN', help: 'an allowed origin (https://shop.example); repeat for more' },
    'key-name': { type: 'string', value: 'NAME', help: 'name of the first API key (default "backend")' },
  },
  async run(client, values) {
    const environment = env(values);
    const envs = await client.get<{ environments: { environment: Environment; publicUrl: string }[] }>('/admin/v1/environments');
    const baseUrl = envs.environments.find((e) => e.environment === environment)?.publicUrl;
    if (!baseUrl) throw new UsageError(`this gateway does not serve ${environment} to this token`);
    const site = await client.post<Site & { identitySecret: string }>(`/admin/v1/${environment}/sites`, {
      name: need(values, 'name'),
      allowedOrigins: list(values, 'origin'),
    });
    const key = await client
      .post<ApiKey & { apiKey: string }>(`/admin/v1/${environment}${client.path('sites', site.siteId, 'api-keys')}`, {
        name: str(values, 'key-name') ?? 'backend',
      })
      .catch((err: unknown) => {
        if (!(err instanceof AdminApiError)) throw err;
        // The site exists: say so, so the person does not create it twice.
        throw new AdminApiError({
          ...err.problem,
          detail: `${err.message}. Site ${site.siteId} was created; create its key with: verigate keys create --env ${environment} --site ${site.siteId} --name backend`,
        });
      });
    const dotenv = {
      VERIGATE_BASE_URL: baseUrl,
      VERIGATE_SITE_ID: site.siteId,
      VERIGATE_PUBLISHABLE_KEY: site.publishableKey,
      VERIGATE_API_KEY: key.apiKey,
      VERIGATE_IDENTITY_SECRET: site.identitySecret,
    };
    const text = [
      `# verigate ${environment} site "${site.name}" (${site.siteId}), created ${site.createdAt}`,
      '# The API key and the identity secret are secrets: keep this file out of version control.',
      ...Object.entries(dotenv).map(([k, v]) => envLine(k, v)),
    ].join('\n');
    return { json: { site, apiKey: key, env: dotenv }, text };
  },
};

const sitesList: Command = {
  name: 'sites list',
  summary: 'list the sites of an environment',
  options: { env: ENV_OPTION },
  async run(client, values) {
    const environment = env(values);
    const body = await client.get<{ sites: Site[] }>(`/admin/v1/${environment}/sites`);
    const text = body.sites.length
      ? body.sites.map((s) => `${s.siteId}  ${s.name}  ${s.allowedOrigins.join(',') || '-'}`).join('\n')
      : `No sites in ${environment}.`;
    return { json: body, text };
  },
};

const sitesGet: Command = {
  name: 'sites get',
  summary: 'show one site',
  options: { env: ENV_OPTION, site: SITE_OPTION },
  async run(client, values) {
    const environment = env(values);
    const site = await client.get<Site>(`/admin/v1/${environment}${client.path('sites', need(values, 'site'))}`);
    const text = [
      `Site ${site.siteId} (${environment})`,
      `  name:            ${site.name}`,
      `  publishable key: ${site.publishableKey}`,
      `  allowed origins: ${site.allowedOrigins.join(', ') || '-'}`,
      `  created:         ${site.createdAt}`,
    ].join('\n');
    return { json: site, text };
  },
};

const sitesDelete: Command = {
  name: 'sites delete',
  summary: 'delete a site with its keys, users and sessions',
  options: { env: ENV_OPTION, site: SITE_OPTION },
  async run(client, values) {
    const environment = env(values);
    const siteId = need(values, 'site');
    await client.delete(`/admin/v1/${environment}${client.path('sites', siteId)}`);
    return { json: { deleted: true, siteId }, text: `Deleted site ${siteId} from ${environment}.` };
  },
};

const keysCreate: Command = {
  name: 'keys create',
  summary: 'create an API key (shown once)',
  options: {
    env: ENV_OPTION,
    site: SITE_OPTION,
    name: { type: 'string', value: 'NAME', required: true, help: 'what the key is for ("backend")' },
    'expires-at': { type: 'string', value: 'ISO_DATE', help: 'when it stops working (default never)' },
  },
  async run(client, values) {
    const environment = env(values);
    const expiresAt = instant(values, 'expires-at');
    const key = await client.post<ApiKey & { apiKey: string }>(
      `/admin/v1/${environment}${client.path('sites', need(values, 'site'), 'api-keys')}`,
      { name: need(values, 'name'), ...(expiresAt && { expiresAt }) },
    );
    const text = [`Created API key "${key.name}" (${key.keyId}) for ${key.siteId}; it is shown only now:`, key.apiKey].join('\n');
    return { json: key, text };
  },
};

const keysList: Command = {
  name: 'keys list',
  summary: "list a site's API keys (masked)",
  options: { env: ENV_OPTION, site: SITE_OPTION },
  async run(client, values) {
    const environment = env(values);
    const body = await client.get<{ apiKeys: ApiKey[] }>(`/admin/v1/${environment}${client.path('sites', need(values, 'site'), 'api-keys')}`);
    const text = body.apiKeys.length ? body.apiKeys.map((k) => keyText(k, environment)).join('\n') : 'No API keys.';
    return { json: body, text };
  },
};

const keysRoll: Command = {
  name: 'keys roll',
  summary: 'replace an API key with a new one (shown once); the old one works on for --expires-in',
  options: {
    env: ENV_OPTION,
    site: SITE_OPTION,
    key: { type: 'string', value: 'KEY_ID', required: true, help: 'the key to roll (key_…)' },
    'expires-in': { type: 'string', value: 'SECONDS', help: 'how long the old key keeps working (default 3600; 0 stops it now)' },
  },
  async run(client, values) {
    const environment = env(values);
    const rolled = await client.post<ApiKey & { apiKey: string; previousKey: ApiKey }>(
      `/admin/v1/${environment}${client.path('sites', need(values, 'site'), 'api-keys', need(values, 'key'), 'roll')}`,
      { expiresInSeconds: seconds(values, 'expires-in', 3600) },
    );
    const text = [
      `Rolled ${rolled.previousKey.keyId}: the old key stops working at ${when(rolled.previousKey.expiresAt, 'once')}.`,
      `New API key "${rolled.name}" (${rolled.keyId}); it is shown only now:`,
      rolled.apiKey,
    ].join('\n');
    return { json: rolled, text };
  },
};

const keysRevoke: Command = {
  name: 'keys revoke',
  summary: 'revoke an API key (refused everywhere within a second)',
  options: { env: ENV_OPTION, site: SITE_OPTION, key: { type: 'string', value: 'KEY_ID', required: true, help: 'the key (key_…)' } },
  async run(client, values) {
    const environment = env(values);
    const siteId = need(values, 'site');
    const keyId = need(values, 'key');
    await client.delete(`/admin/v1/${environment}${client.path('sites', siteId, 'api-keys', keyId)}`);
    return { json: { revoked: true, siteId, keyId }, text: `Revoked API key ${keyId} of ${siteId}.` };
  },
};

const usersGet: Command = {
  name: 'users get',
  summary: 'show a user and their product access',
  options: { env: ENV_OPTION, site: SITE_OPTION, user: USER_OPTION },
  async run(client, values) {
    const environment = env(values);
    const user = await client.get<User>(`/admin/v1/${environment}${client.path('sites', need(values, 'site'), 'users', need(values, 'user'))}`);
    return { json: user, text: userText(user) };
  },
};

const usersGrant: Command = {
  name: 'users grant',
  summary: 'grant a user one product, optionally until --expires-at',
  options: {
    env: ENV_OPTION,
    site: SITE_OPTION,
    user: USER_OPTION,
    product: { type: 'string', value: 'PRODUCT_ID', required: true, help: 'the product' },
    'expires-at': { type: 'string', value: 'ISO_DATE', help: 'when the access ends (default never)' },
  },
  async run(client, values) {
    const environment = env(values);
    const expiresAt = instant(values, 'expires-at');
    const user = await client.put<User>(
      `/admin/v1/${environment}${client.path('sites', need(values, 'site'), 'users', need(values, 'user'), 'products', need(values, 'product'))}`,
      expiresAt ? { expiresAt } : {},
    );
    return { json: user, text: `Granted ${need(values, 'product')}.\n${userText(user)}` };
  },
};

const usersRevoke: Command = {
  name: 'users revoke',
  summary: 'take one product away from a user',
  options: {
    env: ENV_OPTION,
    site: SITE_OPTION,
    user: USER_OPTION,
    product: { type: 'string', value: 'PRODUCT_ID', required: true, help: 'the product' },
  },
  async run(client, values) {
    const environment = env(values);
    const user = await client.delete<User>(
      `/admin/v1/${environment}${client.path('sites', need(values, 'site'), 'users', need(values, 'user'), 'products', need(values, 'product'))}`,
    );
    return { json: user, text: `Revoked ${need(values, 'product')}.\n${userText(user)}` };
  },
};

const sessionsEnd: Command = {
  name: 'sessions end',
  summary: 'sign a user out everywhere (every session of theirs ends)',
  options: { env: ENV_OPTION, site: SITE_OPTION, user: USER_OPTION },
  async run(client, values) {
    const environment = env(values);
    const siteId = need(values, 'site');
    const userId = need(values, 'user');
    await client.delete(`/admin/v1/${environment}${client.path('sites', siteId, 'users', userId, 'sessions')}`);
    return { json: { ended: true, siteId, userId }, text: `Ended every session of ${userId} on ${siteId}.` };
  },
};

const tokensCreate: Command = {
  name: 'tokens create',
  summary: 'create a scoped admin token (root token only; shown once)',
  options: {
    name: { type: 'string', value: 'NAME', required: true, help: 'who or what it is for' },
    env: { type: 'string', multiple: true, value: 'live|sandbox', required: true, help: 'an environment it covers; repeat for both' },
    site: { type: 'string', multiple: true, value: 'SITE_ID', help: 'a site it covers; repeat for more (default every site)' },
    role: { type: 'string', value: 'read|write', required: true, help: 'read, or read and write' },
  },
  async run(client, values) {
    const role = need(values, 'role');
    if (role !== 'read' && role !== 'write') throw new UsageError('--role must be read or write');
    const environments = [...new Set(list(values, 'env').map(environmentOf))];
    if (environments.length === 0) throw new UsageError('--env is required');
    const siteIds = list(values, 'site');
    const token = await client.post<AdminToken & { token: string }>('/admin/v1/admin-tokens', {
      name: need(values, 'name'),
      environments,
      role,
      ...(siteIds.length > 0 && { siteIds }),
    });
    const scope = `${token.role} on ${token.environments.join(' and ')}${token.siteIds ? `, sites ${token.siteIds.join(', ')}` : ', every site'}`;
    return { json: token, text: [`Created admin token "${token.name}" (${token.tokenId}): ${scope}. It is shown only now:`, token.token].join('\n') };
  },
};

const tokensList: Command = {
  name: 'tokens list',
  summary: 'list scoped admin tokens (root token only)',
  options: {},
  async run(client) {
    const body = await client.get<{ adminTokens: AdminToken[] }>('/admin/v1/admin-tokens');
    const text = body.adminTokens.length
      ? body.adminTokens
          .map((t) => `${t.tokenId}  ${t.name}  ${t.role}  ${t.environments.join(',')}  ${t.siteIds ? t.siteIds.join(',') : 'all sites'}`)
          .join('\n')
      : 'No scoped admin tokens.';
    return { json: body, text };
  },
};

const tokensRevoke: Command = {
  name: 'tokens revoke',
  summary: 'revoke a scoped admin token (refused everywhere within a second)',
  options: { 'token-id': { type: 'string', value: 'TOKEN_ID', required: true, help: 'the token (its tokenId)' } },
  async run(client, values) {
    const tokenId = need(values, 'token-id');
    await client.delete(`/admin/v1${client.path('admin-tokens', tokenId)}`);
    return { json: { revoked: true, tokenId }, text: `Revoked admin token ${tokenId}.` };
  },
};

export const COMMANDS: readonly Command[] = [
  sitesCreate,
  sitesList,
  sitesGet,
  sitesDelete,
  keysCreate,
  keysList,
  keysRoll,
  keysRevoke,
  usersGet,
  usersGrant,
  usersRevoke,
  sessionsEnd,
  tokensCreate,
  tokensList,
  tokensRevoke,
];
