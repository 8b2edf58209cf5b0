import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Label value for requests that matched no route: never the raw URL, so scanners cannot blow up cardinality. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The gateway's Prometheus metrics, on a registry of their own. Label values
 * must come from small fixed sets: `route` is the route pattern
 * (`/live_api/s2s/v1/users/verification`, `/admin/v1/:environment/sites/:siteId`)
 * or {@link UNMATCHED_ROUTE}, never a URL with ids in it.
 */
export interface Metrics {
  /** Serve with `registry.metrics()` and `registry.contentType`. */
  readonly registry: Registry;
  /** Finished HTTP requests. `environment` is `live`, `sandbox` or `admin`; `status` the numeric code as a string. */
  readonly httpRequests: Counter<'environment' | 'route' | 'method' | 'status'>;
  /** HTTP request duration in seconds, from first byte in to last byte out. */
  readonly httpDuration: Histogram<'environment' | 'route'>;
  /** Exchange results: `verified`, a not-verified `reason` (`token_expired`, …) or an error code (`invalid_api_key`, …). */
  readonly exchangeOutcomes: Counter<'environment' | 'outcome'>;
  /** Sign-in results: `signed_in`, an identity-token `reason` (`bad_signature`, …) or an error code (`origin_not_allowed`, …). */
  readonly signInOutcomes: Counter<'environment' | 'outcome'>;
  /** Requests refused 429 by a rate limit, by its name (`sign_in_per_address`, … — see src/http/rate-limits.ts). */
  readonly rateLimited: Counter<'environment' | 'limit'>;
  /** Errors the store clients reported (lost connections, failed reconnects); not the requests they failed. */
  readonly storeErrors: Counter<'environment'>;
}

/** Registries that already collect the process metrics (CPU, memory, event loop, GC). */
const withDefaults = new WeakSet<Registry>();

/**
 * Build a fresh set of metrics on a new registry, never the global one, so a
 * test can build as many apps as it likes. Node process metrics are collected
 * once per registry.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * metrics.exchangeOutcomes.inc({ environment: 'live', outcome: 'verified' });
 * res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
 * ```
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  if (!withDefaults.has(registry)) {
    collectDefaultMetrics({ register: registry });
    withDefaults.add(registry);
  }
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'verigate_http_requests_total',
      help: 'HTTP requests answered, by environment, route pattern, method and status code.',
      labelNames: ['environment', 'route', 'method', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'verigate_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by environment and route pattern.',
      labelNames: ['environment', 'route'] as const,
      // An exchange is a signature check and one store read: mostly single-digit ms.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    exchangeOutcomes: new Counter({
      name: 'verigate_exchange_outcomes_total',
      help:
        'Verification token exchanges answered, by environment and outcome: verified, the reason of a 200 not-verified answer, ' +
        'or the error code of a refusal (invalid_api_key, rate_limited, store_unavailable, ...).',
      labelNames: ['environment', 'outcome'] as const,
      registers,
    }),
    signInOutcomes: new Counter({
      name: 'verigate_sign_in_outcomes_total',
      help:
        'Sign-ins (POST /live_api/v1/sessions) answered, by environment and outcome: signed_in, the reason of a refused identity token ' +
        '(bad_signature, expired, ...), or the error code of another refusal (origin_not_allowed, rate_limited, ...).',
      labelNames: ['environment', 'outcome'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'verigate_rate_limited_total',
      help: 'Requests refused 429 rate_limited, by listener (live, sandbox, admin) and the limit that refused them.',
      labelNames: ['environment', 'limit'] as const,
      registers,
    }),
    storeErrors: new Counter({
      name: 'verigate_store_errors_total',
      help: 'Errors reported by the store clients (connection lost, reconnect failed), by environment; the requests they failed are 503s in verigate_http_requests_total.',
      labelNames: ['environment'] as const,
      registers,
    }),
  };
}
