import type { Request, Response } from 'express';
import { z } from 'zod';
import type { ApiKeyRecord } from '../../domain/api-keys';
import { parseCredential } from '../../domain/credentials';
import { VerigateError } from '../../domain/errors';
import { MAX_EVENT_PAGE, type OpenStream } from '../../domain/event-feed';
import type { EventView } from '../../domain/events';
import { validate } from '../body';
import type { EnvironmentDeps } from '../deps';
import { requestState } from '../pipeline';

const FeedQuery = z.strictObject({
  after: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_EVENT_PAGE).optional(),
});

/** A client that reads this far behind is dropped (it resumes with Last-Event-ID). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** The API key, as the exchange checks it: a refused well-formed key counts against the caller's address. */
function apiKeyAuth(deps: EnvironmentDeps) {
  return async (req: Request, res: Response): Promise<ApiKeyRecord> => {
    const presented = req.headers['x-api-key'] as string | undefined;
    try {
      return await deps.domain.apiKeys.authenticate(presented);
    } catch (err) {
      if (err instanceof VerigateError && err.code === 'invalid_api_key' && presented !== undefined && parseCredential(presented, 'sk').ok) {
        await deps.rateLimits.failedApiKeyPerIp.consume(requestState(res).clientAddress);
      }
      throw err;
    }
  };
}

/** GET /live_api/s2s/v1/events — the key's site's events after the cursor, oldest first. */
export function eventFeedHandler(deps: EnvironmentDeps) {
  const authenticate = apiKeyAuth(deps);
  return async function eventFeed(req: Request, res: Response): Promise<void> {
    const apiKey = await authenticate(req, res);
    const q = validate(FeedQuery, req.query);
    const page = await deps.domain.events.page(apiKey.siteId, q.after ?? null, q.limit);
    res.setHeader('Cache-Control', 'no-store');
    res.json(page);
  };
}

const sseEvent = (event: EventView): string => `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * GET /live_api/s2s/v1/events/stream — Server-Sent Events: every event of
 * the key's site from now on (or after `Last-Event-ID`), a heartbeat at
 * least every 250 ms, closed when the key stops being valid. A bad cursor
 * or key is refused as a problem before the stream begins.
 */
export function eventStreamHandler(deps: EnvironmentDeps) {
  const authenticate = apiKeyAuth(deps);
  const { domain } = deps;
  return async function eventStream(req: Request, res: Response): Promise<void> {
    const presented = req.headers['x-api-key'] as string | undefined;
    const apiKey = await authenticate(req, res);
    const lastEventId = req.headers['last-event-id'];
    const after = typeof lastEventId === 'string' && lastEventId.trim() !== '' ? lastEventId.trim() : null;

    let started = false;
    let ended = false;
    const early: string[] = [];
    let open: OpenStream | null = null;
    const write = (chunk: string): void => {
      if (ended) return;
      if (!started) {
        early.push(chunk);
        return;
      }
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED_BYTES) end();
    };
    const end = (): void => {
      if (ended) return;
      ended = true;
      open?.close();
      if (started) res.end();
    };

    open = await domain.events.open({
      siteId: apiKey.siteId,
      after,
      keyId: apiKey.keyId,
      keyStillValid: async () => {
        try {
          await domain.apiKeys.authenticate(presented);
          return true;
        } catch (err) {
          if (err instanceof VerigateError && err.code !== 'store_unavailable') return false;
          throw err;
        }
      },
      sink: {
        event: (event) => write(sseEvent(event)),
        heartbeat: (serverTime) => write(`event: heartbeat\ndata: ${JSON.stringify({ time: serverTime })}\n\n`),
        close: () => end(),
      },
    });
    if (ended) throw new VerigateError('invalid_api_key', 'The API key is no longer valid');
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    started = true;
    res.write(': stream open\n\n');
    for (const chunk of early.splice(0)) res.write(chunk);
    res.on('close', end);
    req.socket.setNoDelay(true);
  };
}
