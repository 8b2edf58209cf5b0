import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { VerigateError, type ErrorCode } from '../domain/errors';
import { UNMATCHED_ROUTE, type Metrics } from '../ops/metrics';
import { addressKey, clientAddressResolver, type ClientAddressOf } from './client-address';
import { problemBody, toVerigateError } from './problem';
import { helmetDefaultHeaders } from './security-headers';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
const NO_STORE = 'no-store';
const STATE = Symbol('verigate.request');
const NO_HEADERS: readonly string[] = [];

type RequestLabels = { readonly environment: string; readonly route: string; readonly method: string; readonly status: string };
type RouteLabels = { readonly environment: string; readonly route: string };

/** What the pipeline knows about one request, from its first step to its log line. */
export interface RequestState {
  /** The caller's `X-Request-Id` when it is sane, else a fresh UUID; echoed on the response. */
  readonly requestId: string;
  /**
   * The client's address, settled once, synchronously, when the request
   * begins (TRUST_PROXY, SPEC §7: client-address.ts): every limit and log
   * line uses this one value. Logged in full.
   */
  readonly clientAddress: string;
  /** {@link clientAddress} as the per-address limits count it: IPv6 by its /64. */
  readonly addressKey: string;
  /** The site the request turned out to concern, once known (logged with a refusal). */
  siteId: string | undefined;
  /** The `reason` of a refused identity token or similar, once known (logged with a refusal). */
  reason: string | undefined;
  /** performance.now() at the start. */
  readonly startedAt: number;
  /** The route pattern once routed (metrics and logs never see a raw URL), else `unmatched`. */
  route: string;
  /** The error code, when the answer is a problem. */
  errorCode: ErrorCode | undefined;
  /** The common headers are already on the response (setHeader: the Express path). */
  commonHeadersSet: boolean;
}

type StatefulResponse = ServerResponse & { [STATE]?: RequestState };

/** The state of a request the pipeline has begun (a programming error otherwise). */
export function requestState(res: ServerResponse): RequestState {
  const state = (res as StatefulResponse)[STATE];
  if (state === undefined) throw new Error('the request did not go through the pipeline');
  return state;
}

/** Express's own body/URL errors (e.g. a malformed percent-encoding) carry a status; map them to codes. */
function fromExpressError(err: unknown): VerigateError | null {
  const status = (err as { status?: unknown } | null)?.status;
  if (status === 400) return new VerigateError('invalid_request', 'The request could not be parsed');
  return null;
}

function describeCause(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : undefined;
}

/**
 * The steps every request of one listener shares, written once, on node's
 * IncomingMessage/ServerResponse: the request id, the client address, the
 * security headers (helmet's defaults, worked out once), problem+json for
 * every error (rate-limit refusals and store faults included), metrics, and
 * one log line. The fast lane (fast-lane.ts) calls them directly; the
 * Express app is built from {@link Pipeline.expressMiddleware} and
 * {@link Pipeline.expressErrorHandler}, which call the same methods, and
 * has no app-level middleware of its own (test/http/pipeline.test.ts holds
 * both paths to the same headers and log fields, and the app to that).
 *
 * A good request logs at `debug`, so at the default level it costs no log
 * write; refusals log at `info`, server errors at `error`.
 *
 * A class, though STYLE.md keeps classes for errors and store adapters: one
 * object per listener holds what its steps share (the header array, label
 * objects made once), and the test compares the app's middleware to it.
 */
export class Pipeline {
  /** Security headers, flat (`[name, value, name, value, …]`), as writeHead takes them. */
  private readonly securityHeaders: readonly string[];
  private readonly securityHeaderPairs: readonly (readonly [string, string])[];
  /** Express middleware: begin + the common headers set up front (Express handlers use setHeader). */
  readonly expressMiddleware: readonly RequestHandler[];
  /** The Express error handler (four parameters, as Express recognises them). */
  readonly expressErrorHandler: ErrorRequestHandler;
  /** The 'finish' listener of every response: one function for all, `this` is the response. */
  private readonly onFinish: (this: ServerResponse) => void;

  /** Settles the client address of a request (TRUST_PROXY). */
  private readonly clientAddressOf: ClientAddressOf;

  constructor(
    /** `live`, `sandbox` or `admin`: the `environment` label of the metrics. */
    readonly listener: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    options: PipelineOptions = {},
  ) {
    const securityHeaders = options.securityHeaders ?? helmetDefaultHeaders();
    this.clientAddressOf = options.clientAddressOf ?? clientAddressResolver({ kind: 'none' });
    this.securityHeaderPairs = securityHeaders;
    this.securityHeaders = securityHeaders.flat();
    const pipeline = this;
    this.onFinish = function onFinish(this: ServerResponse): void {
      pipeline.finish(this);
    };
    this.expressMiddleware = [
      function requestPipeline(req: Request, res: Response, next: NextFunction): void {
        const state = pipeline.begin(req, res);
        pipeline.setCommonHeaders(res, state);
        next();
      },
    ];
    this.expressErrorHandler = function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
      pipeline.fail(res, err);
    };
    this.onClientError = function onClientError(err: Error & { code?: string }, socket: Socket): void {
      pipeline.clientError(err, socket);
    };
  }

  /** The server's 'clientError' listener: Node's own refusals as problem+json (see {@link clientError}). */
  readonly onClientError: (err: Error & { code?: string }, socket: Socket) => void;

  /**
   * The first steps: request id, client address, the clock; and on
   * 'finish', metrics and the log line. Sets no header yet.
   */
  begin(req: IncomingMessage, res: ServerResponse, route: string = UNMATCHED_ROUTE): RequestState {
    const incoming = req.headers['x-request-id'];
    const clientAddress = this.clientAddressOf(req);
    const state: RequestState = {
      requestId: typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID(),
      clientAddress,
      addressKey: addressKey(clientAddress),
      siteId: undefined,
      reason: undefined,
      startedAt: performance.now(),
      route,
      errorCode: undefined,
      commonHeadersSet: false,
    };
    (res as StatefulResponse)[STATE] = state;
    // 'finish' comes once per response; one shared listener, no closure per request.
    res.on('finish', this.onFinish);
    return state;
  }

  /** The headers every response carries (security headers, X-Request-Id), set one by one: the Express path. */
  setCommonHeaders(res: ServerResponse, state: RequestState): void {
    res.setHeader('X-Request-Id', state.requestId);
    for (const [name, value] of this.securityHeaderPairs) res.setHeader(name, value);
    state.commonHeadersSet = true;
  }

  /**
   * A whole response in one writeHead: the common headers (unless the
   * Express path set them already), `extra` (flat name/value pairs), the
   * type and length, then the body.
   */
  send(res: ServerResponse, status: number, contentType: string, body: string, extra: readonly string[] = NO_HEADERS): void {
    const state = requestState(res);
    const common = state.commonHeadersSet ? NO_HEADERS : this.securityHeaders;
    // One array of the exact size, filled in place: this runs on every exchange.
    const headers = new Array<string>(common.length + (common === NO_HEADERS ? 0 : 2) + extra.length + 4);
    let at = 0;
    for (let i = 0; i < common.length; i++) headers[at++] = common[i] as string;
    if (common !== NO_HEADERS) {
      headers[at++] = 'X-Request-Id';
      headers[at++] = state.requestId;
    }
    for (let i = 0; i < extra.length; i++) headers[at++] = extra[i] as string;
    headers[at++] = 'Content-Type';
    headers[at++] = contentType;
    headers[at++] = 'Content-Length';
    headers[at] = String(Buffer.byteLength(body));
    res.writeHead(status, headers);
    res.end(body);
  }

  /**
   * Anything thrown becomes a problem+json answer (problem.ts writes the
   * body). Only a VerigateError keeps its words; a store fault is a 503
   * with Retry-After; anything else is `internal_error`, logged with its
   * stack. A response already under way is cut off instead.
   */
  fail(res: ServerResponse, err: unknown): void {
    const state = requestState(res);
    // Already answered (Node's request timeout answered it, below): a late rejection of the handler adds nothing.
    if (res.writableEnded) return;
    if (isClientGone(res, err)) {
      // The client went away (aborted mid-body, closed the connection): nobody to answer, nothing went wrong here.
      this.log.info({ requestId: state.requestId, clientAddress: state.clientAddress, route: state.route }, 'client closed the request');
      res.destroy();
      return;
    }
    const problem = err instanceof VerigateError ? err : (fromExpressError(err) ?? toVerigateError(err));
    state.errorCode = problem.code;
    const reason = problem.extra?.reason;
    if (typeof reason === 'string') state.reason = reason;
    if (problem.code === 'internal_error') {
      this.log.error({ requestId: state.requestId, err }, 'unhandled error');
    } else if (problem.code === 'store_unavailable') {
      this.log.warn({ requestId: state.requestId, cause: describeCause(err) }, 'store unavailable');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const extra: string[] = [];
    if (problem.headers) for (const name in problem.headers) extra.push(name, problem.headers[name] as string);
    extra.push('Cache-Control', NO_STORE);
    this.send(res, problem.status, PROBLEM_TYPE, JSON.stringify(problemBody(problem, state.requestId)), extra);
  }

  /**
   * One audit line (SPEC §8), at `info`: `"audit": true`, the action, the
   * actor, the client address, the environment and the ids — never a
   * secret (audit.ts copies ids only).
   */
  audit(res: ServerResponse, entry: AuditEntry): void {
    const state = requestState(res);
    this.log.info(
      {
        audit: true,
        action: entry.action,
        actor: entry.actor,
        clientAddress: state.clientAddress,
        environment: entry.environment,
        requestId: state.requestId,
        ...entry.ids,
        ...(entry.created && { created: entry.created }),
      },
      'audit',
    );
  }

  /** Label objects by route, method and status, made once: metrics are counted on every request. */
  private readonly labels = new Map<string, { route: RouteLabels; requests: Map<string, RequestLabels> }>();

  private labelsOf(route: string): { route: RouteLabels; requests: Map<string, RequestLabels> } {
    let labels = this.labels.get(route);
    if (labels === undefined) {
      labels = { route: { environment: this.listener, route }, requests: new Map() };
      this.labels.set(route, labels);
    }
    return labels;
  }

  private routeLabels(route: string): RouteLabels {
    return this.labelsOf(route).route;
  }

  private requestLabels(route: string, method: string, status: number): RequestLabels {
    const byRoute = this.labelsOf(route).requests;
    // Methods and statuses are few per route (a route answers one method; 405s and 404s are patterns too).
    const key = method + status;
    let labels = byRoute.get(key);
    if (labels === undefined) {
      labels = { environment: this.listener, route, method, status: String(status) };
      byRoute.set(key, labels);
    }
    return labels;
  }

  /** The last steps, once the response is sent: metrics and the one log line. */
  private finish(res: ServerResponse): void {
    const state = (res as StatefulResponse)[STATE] as RequestState;
    const method = res.req.method as string;
    const status = res.statusCode;
    const seconds = (performance.now() - state.startedAt) / 1000;
    const { metrics, log } = this;
    metrics.httpRequests.inc(this.requestLabels(state.route, method, status));
    metrics.httpDuration.observe(this.routeLabels(state.route), seconds);
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (log.isLevelEnabled(level)) {
      // Only the route pattern: never headers, bodies or query strings (they may carry secrets).
      const origin = status >= 400 ? res.req.headers.origin : undefined;
      log[level](
        {
          requestId: state.requestId,
          clientAddress: state.clientAddress,
          method,
          route: state.route,
          status,
          ms: Math.round(seconds * 1e4) / 10,
          ...(state.errorCode !== undefined && { code: state.errorCode }),
          ...(state.siteId !== undefined && { siteId: state.siteId }),
          ...(state.reason !== undefined && { reason: state.reason }),
          ...(typeof origin === 'string' && { origin: origin.slice(0, 256) }),
        },
        'request',
      );
    }
  }

  /**
   * Node's own refusals, before a request reaches us or while its body is
   * still coming (the server's 'clientError'): a malformed request 400
   * `invalid_request`, headers too large 431 `headers_too_large`, headers
   * or the whole request too slow 408 `request_timeout` — each
   * problem+json, then the connection closed. A request already being
   * answered goes through {@link fail} (its id, its log line); otherwise
   * the answer is written raw on the socket and logged here. A client
   * that reset the connection gets nothing.
   */
  clientError(err: Error & { code?: string }, socket: Socket): void {
    const problem = nodeRefusal(err);
    const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (problem === null || !socket.writable) {
      socket.destroy();
      return;
    }
    const state = pending ? (pending as StatefulResponse)[STATE] : undefined;
    if (pending && state && !pending.headersSent) {
      this.fail(pending, problem);
      return;
    }
    if (pending?.headersSent) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const body = JSON.stringify(problemBody(problem, requestId));
    const head = [`HTTP/1.1 ${problem.status} ${STATUS_TEXT[problem.status] ?? 'Error'}`];
    for (const [name, value] of this.securityHeaderPairs) head.push(`${name}: ${value}`);
    head.push(
      `X-Request-Id: ${requestId}`,
      `Content-Type: ${PROBLEM_TYPE}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      `Cache-Control: ${NO_STORE}`,
      'Connection: close',
    );
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    const clientAddress = unmappedPeer(socket);
    this.metrics.httpRequests.inc({ environment: this.listener, route: UNMATCHED_ROUTE, method: 'unknown', status: String(problem.status) });
    this.log.info({ requestId, clientAddress, status: problem.status, code: problem.code, cause: err.code }, 'request refused by the HTTP parser');
  }
}

/** One audit line's fields, as audit.ts's step hands them to {@link Pipeline.audit}. */
export interface AuditEntry {
  readonly action: string;
  /** `root`, or the scoped admin token's tokenId. */
  readonly actor: string;
  /** The environment the path names; null for what spans both (admin tokens). */
  readonly environment: string | null;
  /** Ids named in the path (`siteId`, `userId`, `keyId`, `productId`, `tokenId`, …). */
  readonly ids: Readonly<Record<string, string>>;
  /** Ids the call made, read from its answer (`siteId`, `keyId`, `sessionId`, `kid`, `tokenId`, …). */
  readonly created: Readonly<Record<string, string>> | undefined;
}

/** What {@link Pipeline} is built with, besides its listener, logger and metrics. */
export interface PipelineOptions {
  /** Settles each request's client address (default: the TCP peer; TRUST_PROXY decides it: client-address.ts). */
  readonly clientAddressOf?: ClientAddressOf;
  /** The security headers of every response (default: helmet's). */
  readonly securityHeaders?: readonly (readonly [string, string])[];
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** The socket's peer, `::ffff:` dropped (a raw refusal has no request to apply TRUST_PROXY to). */
function unmappedPeer(socket: Socket): string {
  const peer = socket.remoteAddress ?? 'unknown';
  return peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
}

/** Node's http parser and timeout errors as our problems; null for a connection the client broke. */
function nodeRefusal(err: Error & { code?: string }): VerigateError | null {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    // The client closed its side mid-request: there is no one to answer.
    case 'HPE_INVALID_EOF_STATE':
      return null;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new VerigateError('request_timeout', 'The request did not arrive in time (headers and body within 10 s)', undefined, {
        Connection: 'close',
      });
    case 'HPE_HEADER_OVERFLOW':
      return new VerigateError('headers_too_large', 'The request headers are too large', undefined, { Connection: 'close' });
    default:
      return new VerigateError('invalid_request', 'The request is not valid HTTP/1.1', undefined, { Connection: 'close' });
  }
}

/** The client went away: the request was aborted mid-body, or the connection closed before we answered. */
function isClientGone(res: ServerResponse, err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') return true;
  return res.destroyed || (res.req.destroyed && !(err instanceof VerigateError));
}
