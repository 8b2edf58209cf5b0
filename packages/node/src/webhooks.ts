import { VerigateError } from './errors.js';
import type { components } from './generated/openapi.js';

/**
 * One event as a webhook delivers it (and the feed lists it): `id`, `type`,
 * `createdAt`, `environment`, `siteId` and the type's `data`.
 *
 * @example
 * ```ts
 * function onEvent(event: WebhookEvent): void {
 *   if (event.type === 'session.ended') signOutLocally(String(event.data.sessionId));
 * }
 * ```
 */
export type WebhookEvent = components['schemas']['Event'];

/**
 * Request headers as frameworks hand them over: Node's (`req.headers`), a
 * fetch `Headers`, or a plain record.
 *
 * @example
 * ```ts
 * const headers: WebhookHeaders = { 'webhook-id': 'site_a_1-0', 'webhook-timestamp': '1764644400', 'webhook-signature': 'v1,…' };
 * ```
 */
export type WebhookHeaders = { get(name: string): string | null } | Readonly<Record<string, string | string[] | undefined>>;

/**
 * Options of {@link verifyWebhook}.
 *
 * @example
 * ```ts
 * const options: VerifyWebhookOptions = { toleranceSeconds: 300 };
 * ```
 */
export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way (default 300 s, as Standard Webhooks says). */
  readonly toleranceSeconds?: number;
  /** The current time in ms (default `Date.now`). */
  readonly now?: () => number;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | string[] | undefined>>;
  const value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

const refuse = (message: string): VerigateError => new VerigateError('webhook_invalid', message);

function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Compares without an early exit, so the time taken says nothing of where they differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks a webhook from verigate (Standard Webhooks: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`) against the endpoint's secret
 * and resolves with the event; rejects with a {@link VerigateError} of code
 * `webhook_invalid` otherwise. Pass the raw body, exactly as received (not
 * re-serialized JSON). During the 24 h after a secret rotation either
 * secret verifies; pass both (an array) while you switch. Web Crypto only:
 * runs on Node 20+, Deno, Bun and edge runtimes, no dependencies.
 * Deduplicate by `webhook-id`: a delivery may come more than once.
 *
 * @example
 * ```ts
 * app.post('/webhooks/verigate', express.raw({ type: 'application/json' }), async (req, res) => {
 *   try {
 *     const event = await verifyWebhook(req.body, req.headers, process.env.VERIGATE_WEBHOOK_SECRET!);
 *     if (event.type === 'session.ended') await signOut(String(event.data.sessionId));
 *     res.sendStatus(204);
 *   } catch {
 *     res.sendStatus(400);
 *   }
 * });
 * ```
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw refuse('webhook-id, webhook-timestamp and webhook-signature are required');
  if (!/^\d{1,12}$/.test(timestamp)) throw refuse('webhook-timestamp is not a Unix time in seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > tolerance) throw refuse('webhook-timestamp is too far from now (a replay, or a clock off)');
  const body = typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(rawBody);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  const offered = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3));
  for (const s of typeof secret === 'string' ? [secret] : secret) {
    const keyBytes = base64ToBytes(s.startsWith('whsec_') ? s.slice(6) : s);
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const expected = bytesToBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, signed)));
    if (offered.some((o) => constantTimeEqual(o, expected))) {
      try {
        return JSON.parse(body) as WebhookEvent;
      } catch {
        throw refuse('the body is not JSON');
      }
    }
  }
  throw refuse('no webhook-signature matches the secret');
}
