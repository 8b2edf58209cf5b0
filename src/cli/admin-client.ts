/**
 * The CLI's way to the gateway: the admin HTTP API, nothing else (no import
 * of the gateway's code). Redirects are refused, so the admin token is never
 * sent to another origin.
 */

/** What the gateway answers with on a refusal (RFC 9457 problem details). */
export interface Problem {
  readonly status: number;
  readonly code: string;
  readonly title?: string;
  readonly detail?: string;
  readonly requestId?: string;
  readonly errors?: readonly { path: string; message: string }[];
  readonly [extra: string]: unknown;
}

/** A refusal of the gateway, or no answer at all (`status` 0, code `gateway_unreachable`). */
export class AdminApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `The gateway answered ${problem.status}`);
    this.name = 'AdminApiError';
  }
  get code(): string {
    return this.problem.code;
  }
  get status(): number {
    return this.problem.status;
  }
}

export interface AdminClientOptions {
  /** The admin listener, e.g. `http://127.0.0.1:8090`. */
  readonly baseUrl: string;
  readonly token: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class AdminClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: AdminClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** `segments` are URL-encoded one by one, so an id can never add a path segment of its own. */
  path(...segments: string[]): string {
    return segments.map((s) => `/${encodeURIComponent(s)}`).join('');
  }

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      res = await this.fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.options.token}`,
          Accept: 'application/json',
          ...(body !== undefined && { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (err) {
      const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new AdminApiError({
        status: 0,
        code: 'gateway_unreachable',
        detail: `Could not reach the admin API at ${this.baseUrl} (${cause}). Is the gateway running, and is VERIGATE_ADMIN_URL right?`,
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const problem =
        parsed && typeof parsed === 'object' && typeof (parsed as { code?: unknown }).code === 'string'
          ? (parsed as Problem)
          : { status: res.status, code: 'unexpected_response', detail: `The gateway answered ${res.status} without a problem body` };
      throw new AdminApiError({ ...problem, status: res.status });
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  delete<T = undefined>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
}
