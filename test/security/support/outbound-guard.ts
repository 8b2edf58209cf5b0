/**
 * Fails a suite that lets the gateway reach out to the network. While
 * installed, every way out of the process that a JWT library or our own code
 * could take — `http(s).request/get`, `net.connect/createConnection`,
 * `tls.connect`, the `net.Socket#connect` they all end in, and
 * `globalThis.fetch` — is checked: loopback is allowed (supertest, the test
 * Redis, servers the test starts), anything else is recorded and refused.
 * Refusal alone is not enough (the gateway would swallow the error as a bad
 * token), so suites assert `attempts` is empty after each test.
 *
 * @example
 * const guard = installOutboundGuard();
 * afterEach(() => expect(guard.takeAttempts()).toEqual([]));
 * afterAll(() => guard.restore());
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1']);

export interface OutboundGuard {
  /** Hosts that were refused since the last call, as `api host`; clears the list. */
  takeAttempts(): string[];
  restore(): void;
}

type Fn = (...args: unknown[]) => unknown;
interface Patch {
  target: Record<string, unknown>;
  name: string;
  original: unknown;
}

const bare = (host: string): string => host.replace(/^\[|\]$/g, '').toLowerCase();

function hostOfUrl(input: unknown): string | null {
  try {
    return bare(new URL(String(input)).hostname);
  } catch {
    return null;
  }
}

/** The host an `http.request(url?, options?, cb?)` call would contact. */
function hostOfHttpArgs(args: unknown[], defaultHost: string): string {
  const [first, second] = args;
  let host: string | null = null;
  if (typeof first === 'string' || first instanceof URL) host = hostOfUrl(first);
  const options = (typeof first === 'object' && first !== null && !(first instanceof URL) ? first : second) as
    | { hostname?: unknown; host?: unknown; socketPath?: unknown }
    | undefined;
  if (options && typeof options === 'object') {
    if (typeof options.socketPath === 'string') return 'localhost';
    const named = options.hostname ?? options.host;
    if (typeof named === 'string') host = bare(named.replace(/:\d+$/, ''));
  }
  return host ?? defaultHost;
}

/** The host a `net.connect(options | port, host?)` / `Socket#connect` call would contact; null for IPC. */
function hostOfNetArgs(rawArgs: unknown[]): string | null {
  // Node's internals call Socket#connect with one pre-normalised array.
  const args = Array.isArray(rawArgs[0]) ? (rawArgs[0] as unknown[]) : rawArgs;
  const [first, second] = args;
  if (typeof first === 'object' && first !== null) {
    const o = first as { path?: unknown; host?: unknown };
    if (typeof o.path === 'string') return null;
    return typeof o.host === 'string' ? bare(o.host) : 'localhost';
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return null; // a socket path
  return typeof second === 'string' ? bare(second) : 'localhost';
}

function hostOfFetchInput(input: unknown): string | null {
  if (typeof input === 'object' && input !== null && 'url' in input) return hostOfUrl((input as { url: unknown }).url);
  return hostOfUrl(input);
}

export function installOutboundGuard(alsoAllowed: readonly string[] = []): OutboundGuard {
  const allowed = new Set([...LOOPBACK, ...alsoAllowed.map(bare)]);
  const attempts: string[] = [];
  const patches: Patch[] = [];
  const refuse = (api: string, host: string): Error => {
    attempts.push(`${api} ${host}`);
    return new Error(`outbound request refused by the test guard: ${api} to ${host}`);
  };

  const wrap = (target: object, name: string, hostOf: (args: unknown[]) => string | null, api: string) => {
    const t = target as Record<string, unknown>;
    const original = t[name] as Fn;
    patches.push({ target: t, name, original });
    t[name] = function guarded(this: unknown, ...args: unknown[]) {
      const host = hostOf(args);
      if (host !== null && !allowed.has(host)) throw refuse(api, host);
      return original.apply(this, args);
    };
  };

  wrap(http, 'request', (a) => hostOfHttpArgs(a, 'localhost'), 'http.request');
  wrap(http, 'get', (a) => hostOfHttpArgs(a, 'localhost'), 'http.get');
  wrap(https, 'request', (a) => hostOfHttpArgs(a, 'localhost'), 'https.request');
  wrap(https, 'get', (a) => hostOfHttpArgs(a, 'localhost'), 'https.get');
  wrap(net, 'connect', hostOfNetArgs, 'net.connect');
  wrap(net, 'createConnection', hostOfNetArgs, 'net.createConnection');
  wrap(tls, 'connect', hostOfNetArgs, 'tls.connect');
  wrap(net.Socket.prototype, 'connect', hostOfNetArgs, 'net.Socket#connect');

  const g = globalThis as unknown as Record<string, unknown>;
  const originalFetch = g.fetch as Fn | undefined;
  patches.push({ target: g, name: 'fetch', original: originalFetch });
  g.fetch = function guardedFetch(this: unknown, ...args: unknown[]) {
    const host = hostOfFetchInput(args[0]);
    if (host === null || !allowed.has(host)) return Promise.reject(refuse('fetch', host ?? String(args[0])));
    if (!originalFetch) return Promise.reject(new Error('fetch is not available'));
    return originalFetch.apply(this, args);
  };

  return {
    takeAttempts: () => attempts.splice(0, attempts.length),
    restore() {
      for (const p of patches.reverse()) p.target[p.name] = p.original;
      patches.length = 0;
    },
  };
}
