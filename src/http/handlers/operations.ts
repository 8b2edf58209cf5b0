import type { Request, Response } from 'express';
import type { Domain } from '../../domain';
import { VerigateError } from '../../domain/errors';
import type { StoreHealth } from '../../domain/ports';
import { sdkScriptHandler } from '../sdk-script';

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

/** GET /sdk/v1/verigate.js: compressed once, served with an ETag (src/http/sdk-script.ts). */
export const sdkHandler = sdkScriptHandler;
