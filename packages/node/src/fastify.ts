/**
 * `@verigate/node/fastify`: the guard as a Fastify plugin (Fastify 4 and 5).
 * A subpath of its own so that only Fastify apps load Fastify's types.
 */
import type { FastifyPluginCallback } from 'fastify';
import type { VerigateClient } from './client.js';
import { guardRequest, type GuardOptions } from './guard.js';
import type { VerifiedUser } from './protocol.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified user on routes the plugin guards (`null` elsewhere). */
    verigateUser: VerifiedUser | null;
  }
}

/**
 * Options of {@link verigateFastify}.
 *
 * @example
 * ```ts
 * const options: VerigateFastifyOptions = { client: verigate, productId: 'reports' };
 * ```
 */
export interface VerigateFastifyOptions extends GuardOptions {
  /** A client from `createVerigateClient()`. */
  client: VerigateClient;
}

function plugin(
  fastify: Parameters<FastifyPluginCallback<VerigateFastifyOptions>>[0],
  options: VerigateFastifyOptions,
  done: (err?: Error) => void,
): void {
  const { client } = options ?? {};
  if (!client || typeof client.verifyUser !== 'function') {
    done(new TypeError('verigateFastify needs { client } from createVerigateClient()'));
    return;
  }
  if (!fastify.hasRequestDecorator('verigateUser')) fastify.decorateRequest('verigateUser', null);
  // onRequest: a refused request is answered before its body is even read.
  fastify.addHook('onRequest', async (request, reply) => {
    const outcome = await guardRequest(client, request.headers.authorization, {
      productId: options.productId,
      logger: options.logger ?? request.log,
    });
    if (outcome.ok) {
      request.verigateUser = outcome.user;
      return;
    }
    return reply.code(outcome.status).headers(outcome.headers).send(JSON.stringify(outcome.problem));
  });
  done();
}

/**
 * A Fastify plugin that guards every route of the scope it is registered
 * in: the answers of `requireVerifiedUser` (401 `not_authenticated`, 403
 * `product_access_required`, 503 `verification_unavailable`, 500
 * `verification_misconfigured` with one line to `request.log`), and
 * `request.verigateUser` on the way through. Like a `fastify-plugin`
 * plugin, its hook applies to the scope that registers it, not a scope of
 * its own: register it inside the scope of the routes to protect.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createVerigateClient } from '@verigate/node';
 * import { verigateFastify } from '@verigate/node/fastify';
 *
 * const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY!, baseUrl: process.env.VERIGATE_BASE_URL });
 * const app = Fastify({ logger: true });
 * app.get('/healthz', async () => ({ ok: true })); // not guarded
 * app.register(async (reports) => {
 *   await reports.register(verigateFastify, { client: verigate, productId: 'reports' });
 *   reports.get('/api/reports', async (request) => ({ hello: request.verigateUser!.userInfo.name }));
 * });
 * ```
 */
export const verigateFastify: FastifyPluginCallback<VerigateFastifyOptions> = Object.assign(plugin, {
  // What `fastify-plugin` sets, without depending on it: hooks and
  // decorators land in the registering scope, and errors name the plugin.
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@verigate/node/fastify',
  [Symbol.for('plugin-meta')]: { name: '@verigate/node/fastify', fastify: '4.x || 5.x' },
});
