import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Pipeline } from './pipeline';
import { EXCHANGE_PATH } from './routes';

/** A handler on node's own request and response, as the fast lane runs it. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The environment listener's request listener: a plain node:http listener
 * in front of Express. It answers exactly `POST
 * /live_api/s2s/v1/users/verification` (that path, no query string, exact
 * case, as the strict and case-sensitive router would match it) with the
 * route table's exchange handler, through the listener's pipeline (request
 * id, client address, security headers, problem+json, metrics, log line);
 * everything else goes to the Express app, which is built from the same
 * pipeline (listeners.ts), so both paths share every step and only the
 * exchange skips Express's request/response setup and router walk.
 *
 * Why: customers call the exchange on every protected request of their own
 * users, so its cost per call is the product's cost (docs/performance.md).
 */
export function createFastLane(pipeline: Pipeline, exchange: NodeHandler, express: RequestListener): RequestListener {
  const serveExchange = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    pipeline.begin(req, res, EXCHANGE_PATH);
    try {
      await exchange(req, res);
    } catch (err) {
      pipeline.fail(res, err);
    }
  };
  return function fastLane(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === EXCHANGE_PATH && req.method === 'POST') void serveExchange(req, res);
    else express(req, res);
  };
}
