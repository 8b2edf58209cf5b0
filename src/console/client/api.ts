/**
 * The console's only way to the gateway: same-origin `fetch` to the admin
 * listener, authorized by the console session cookie (HttpOnly, so this code
 * never sees it) and, on every mutation, the session's CSRF token in
 * `X-CSRF-Token`. The admin token itself is sent once, to sign in, and is
 * never kept by the page (no localStorage, no sessionStorage).
 */
import type { Environment, NoSession, ProblemBody, SessionInfo } from './wire';

/** An error answer of the gateway (problem+json), or a network failure (`status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problem: ProblemBody | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The route does not exist on this gateway (an older one): a 404 `not_found`, not a missing record. */
  get unavailable(): boolean {
    return this.status === 404 && this.code === 'not_found';
  }
}

let csrfToken: string | null = null;
/** Called when the gateway says the console session is gone (expired, signed out elsewhere). */
let onSessionLost: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function onSignedOut(handler: () => void): void {
  onSessionLost = handler;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function call<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The gateway could not be reached. Is it running?');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const problem = parsed && typeof parsed === 'object' ? (parsed as ProblemBody) : null;
    const code = problem?.code ?? 'http_error';
    const message = problem?.detail ?? problem?.title ?? `The gateway answered ${res.status}`;
    const error = new ApiError(res.status, code, message, problem);
    if (res.status === 401 && !path.startsWith('/console/api/session')) onSessionLost();
    throw error;
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown) => call<T>('PUT', path, body ?? {}),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, body),
  delete: <T = void>(path: string) => call<T>('DELETE', path),
};

/** `/admin/v1/{environment}` followed by the given segments, each URL-encoded. */
export function envPath(environment: Environment, ...segments: string[]): string {
  return `/admin/v1/${environment}${segments.map((s) => `/${encodeURIComponent(s)}`).join('')}`;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const s = search.toString();
  return s ? `?${s}` : '';
}

export const consoleSession = {
  current: () => call<SessionInfo | NoSession>('GET', '/console/api/session'),
  signIn: (token: string) => call<SessionInfo>('POST', '/console/api/session', { token }),
  signOut: () => call<void>('DELETE', '/console/api/session'),
};
