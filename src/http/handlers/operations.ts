import type { Request, Response } from 'express';
import type { Domain } from '../../domain';
import { VerigateError } from '../../domain/errors';
import type { StoreHealth } from '../../domain/ports';

export function healthzHandler() {
  return function healthz(_req: Request, res: Response): void {
    res.json({ status: 'ok' });
  };
}

/** Ready when not draining and every store this listener uses answers. */
export function readyzHandler(stores: readonly StoreHealth[], draining: () => boolean) {
  return async function readyz(_req: Request, res: Response): Promise<void> {
    if (draining()) throw new VerigateError('store_unavailable', 'Shutting down', undefined, { 'Retry-After': '1' });
    await Promise.all(stores.map((store) => store.ping()));
    res.json({ status: 'ready' });
  };
}

export function openapiHandler(yamlText: string) {
  return function openapi(_req: Request, res: Response): void {
    res.setHeader('Content-Type', 'application/yaml; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(yamlText);
  };
}

export function jwksHandler(domain: Domain) {
  return async function jwks(_req: Request, res: Response): Promise<void> {
    const body = await domain.signingKeys.jwks();
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(body);
  };
}

export function sdkHandler(script: string | null) {
  return function sdk(_req: Request, res: Response): void {
    if (script === null) throw new VerigateError('not_found', 'The browser SDK has not been built (npm run build)');
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=300');
    // Customers' pages load this with <script src> from their own origin;
    // helmet's default `same-origin` would make the browser refuse it.
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.end(script);
  };
}
