import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { VerigateError } from '../domain/errors';

export const DEFAULT_BODY_LIMIT = 16 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * `payload_too_large`, answered with `Connection: close` (SPEC §7): Node
 * closes the connection once the answer is out, so the rest of the body is
 * never read (keeping the connection would mean reading it all, to find the
 * next request).
 */
function tooLarge(limit: number): VerigateError {
  return new VerigateError('payload_too_large', `The body must be at most ${limit} bytes`, undefined, { Connection: 'close' });
}

/**
 * Reads a JSON body: `unsupported_media_type` unless the type is JSON,
 * `payload_too_large` past `limit` bytes (declared, or counted as they
 * arrive: a large body is cut off, not buffered, and its connection
 * closed), `invalid_json` when it does not parse.
 * An empty body reads as `undefined`. Lean on purpose: this runs on the hot path.
 */
export async function readJsonBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const hasBody = declared !== undefined ? Number(declared) > 0 : req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return undefined;
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) {
    req.resume();
    throw new VerigateError('unsupported_media_type', 'Send the body as application/json');
  }
  const text = await readText(req, limit);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new VerigateError('invalid_json', 'The body is not valid JSON');
  }
}

/**
 * The body as UTF-8 text, `payload_too_large` past `limit` bytes. Plain
 * 'data'/'end' listeners: a stream's async iterator costs several promises
 * and objects per chunk, and this runs on every exchange.
 */
function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // The client may have gone before we got here (a limit or a lookup came first).
    if (req.destroyed && !req.complete) {
      reject(clientGone());
      return;
    }
    let settled = false;
    let first: Buffer | undefined;
    let rest: Buffer[] | undefined;
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        // Read no more: the answer closes the connection (tooLarge).
        req.pause();
        reject(tooLarge(limit));
      } else if (first === undefined) {
        first = chunk;
      } else {
        (rest ??= [first]).push(chunk);
      }
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      if (!req.complete) reject(clientGone());
      else resolve(rest ? Buffer.concat(rest).toString('utf8') : first ? first.toString('utf8') : '');
    });
    // A client that goes away mid-body makes the request emit 'error' ("aborted"), or only 'close'.
    // The listeners stay until the request is gone: an 'error' after we are done must still find one.
    req.on('error', (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    req.on('close', () => {
      if (settled) return;
      settled = true;
      reject(clientGone());
    });
  });
}

/** The client closed the connection before its body was complete (the pipeline logs it as such, not as an error). */
function clientGone(): Error {
  return Object.assign(new Error('the client closed the connection before the body was complete'), { code: 'ECONNRESET' });
}

/** Validates a parsed body; failures list each problem with its path. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
  throw new VerigateError('invalid_request', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
}

/** `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}
