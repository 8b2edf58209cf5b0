import { hostname } from 'node:os';
import pino from 'pino';

/** Logger levels, as in `Config['logLevel']`. */
export type LoggerLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Field names whose values are secrets wherever they appear in a log object. */
const SECRET_FIELDS = [
  'apiKey',
  'sessionToken',
  'userVerificationToken',
  'identityToken',
  'identitySecret',
  'token',
  'password',
] as const;

/** Headers that carry credentials, in requests or responses. */
const SECRET_HEADERS = ['x-api-key', 'authorization', 'cookie', 'proxy-authorization', 'set-cookie'] as const;

/**
 * Paths pino blanks out before a line is written. pino's `*` matches exactly
 * one level, so each secret field is listed at the top level and up to three
 * levels deep (`{ body: { apiKey } }`, `{ req: { body: { apiKey } } }`), and
 * secret headers under any `headers` object up to two levels deep
 * (`req.headers["x-api-key"]`, `upstream.res.headers.cookie`). No two paths
 * match the same value: pino restores redacted values after writing, and
 * overlapping paths would confuse that.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((header) => [
    `headers["${header}"]`,
    `*.headers["${header}"]`,
    `*.*.headers["${header}"]`,
  ]),
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`, `*.*.*.${field}`]),
];

/** What replaces a redacted value. */
export const REDACTED = '[redacted]';

/** Request headers worth logging. Everything else (auth, cookies, customer headers) is dropped. */
const LOGGED_HEADERS = ['user-agent', 'origin', 'content-type', 'content-length', 'x-request-id', 'x-forwarded-for'];

/** The subset of an incoming request that {@link requestSerializer} reads. */
export interface SerializableRequest {
  id?: unknown;
  method?: string;
  url?: string;
  originalUrl?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string | undefined } | null;
}

/**
 * pino serializer for `req`: method, path (the query string is dropped, it is
 * never needed and could carry a token), request id, remote address and an
 * allow-list of harmless headers.
 *
 * @example
 * ```ts
 * log.info({ req: requestSerializer(req) }, 'request');
 * ```
 */
export function requestSerializer(req: SerializableRequest): Record<string, unknown> {
  const url = req.originalUrl ?? req.url;
  const headers: Record<string, string | string[]> = {};
  for (const name of LOGGED_HEADERS) {
    const value = req.headers?.[name];
    if (value !== undefined) headers[name] = value;
  }
  return {
    id: req.id,
    method: req.method,
    path: typeof url === 'string' ? url.split('?')[0] : undefined,
    remoteAddress: req.socket?.remoteAddress,
    headers,
  };
}

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LoggerLevel;
  /** Where JSON lines go; standard output when omitted. Tests pass an in-memory stream. */
  destination?: pino.DestinationStream;
}

/**
 * The process logger: JSON lines with an ISO `time`, `level` as its name and
 * `service: "verigate"`, with every known secret blanked out as `[redacted]`
 * (see {@link REDACT_PATHS}). Children (`log.child({ reqId })`) inherit all of it.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: config.logLevel });
 * log.info({ environment: 'live', port: 8080 }, 'listening');
 * ```
 */
export function createLogger(opts: CreateLoggerOptions): pino.Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { service: 'verigate', pid: process.pid, hostname: hostname() },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    serializers: { req: requestSerializer, err: pino.stdSerializers.err },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
