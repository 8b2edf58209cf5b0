import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { WebhookResponse, WebhookTransport } from '../domain/ports';
import { isRefusedAddress } from '../domain/webhook-targets';

/** What of a receiver's answer is read (then dropped): its status is all that counts. */
const MAX_RESPONSE_BYTES = 64 * 1024;

class RefusedTarget extends Error {
  constructor(address: string) {
    super(`target ${address} is a loopback, private or link-local address (WEBHOOK_ALLOW_PRIVATE_TARGETS is off)`);
  }
}

/**
 * A DNS lookup that answers only public addresses (unless they are
 * allowed): the connection goes to an address that was checked, so a
 * second DNS answer cannot send it elsewhere (rebinding).
 */
function checkedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = allowPrivate ? undefined : addresses.find((a) => isRefusedAddress(a.address));
      if (refused) return callback(new RefusedTarget(refused.address), '', 0);
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * POSTs webhooks with node:http(s): redirects are never followed (a 3xx is
 * a failed attempt), targets must be public unless `allowPrivateTargets`,
 * and the whole exchange is bounded by `timeoutMs`.
 */
export function createWebhookTransport(options: { readonly allowPrivateTargets: boolean }): WebhookTransport {
  const lookup = checkedLookup(options.allowPrivateTargets);
  return {
    post(url, headers, body, { timeoutMs, signal }): Promise<WebhookResponse> {
      return new Promise((resolve) => {
        let target: URL;
        try {
          target = new URL(url);
        } catch {
          resolve({ statusCode: null, error: 'invalid url' });
          return;
        }
        const host = target.hostname.replace(/^\[|\]$/g, '');
        if (!options.allowPrivateTargets && isIP(host) !== 0 && isRefusedAddress(host)) {
          resolve({ statusCode: null, error: new RefusedTarget(host).message });
          return;
        }
        const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
        const limit = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
        let settled = false;
        const done = (result: WebhookResponse): void => {
          if (settled) return;
          settled = true;
          resolve(result);
        };
        const req = request(
          target,
          {
            method: 'POST',
            headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
            lookup,
            signal: limit,
            agent: false,
          },
          (res: IncomingMessage) => {
            let read = 0;
            res.on('data', (chunk: Buffer) => {
              read += chunk.length;
              if (read > MAX_RESPONSE_BYTES) res.destroy();
            });
            const statusCode = res.statusCode ?? null;
            const error =
              statusCode !== null && statusCode >= 300 && statusCode < 400
                ? `redirect to ${res.headers.location ?? '(no location)'} not followed`
                : statusCode !== null && (statusCode < 200 || statusCode >= 300)
                  ? `HTTP ${statusCode}`
                  : null;
            res.on('end', () => done({ statusCode, error }));
            res.on('close', () => done({ statusCode, error }));
            res.on('error', () => done({ statusCode, error }));
          },
        );
        req.on('error', (err: Error) => {
          const timedOut = limit.aborted && !signal.aborted;
          done({ statusCode: null, error: timedOut ? `no answer within ${timeoutMs} ms` : err.message });
        });
        req.end(body);
      });
    },
  };
}
