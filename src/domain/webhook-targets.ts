import { BlockList, isIP } from 'node:net';
import type { Environment } from './environments';
import { VerigateError } from './errors';

/*
 * SPEC §11's rules for webhook targets: no loopback, private, link-local
 * (or otherwise non-public) address unless WEBHOOK_ALLOW_PRIVATE_TARGETS,
 * and https on live under the same rule. Checked on the URL when an
 * endpoint is made or changed, and on every address the host resolves to
 * when a delivery is sent (src/http/webhook-transport.ts connects only to
 * an address checked here, so a DNS answer cannot change in between).
 */

const refused = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  refused.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 of any IPv4
] as const) {
  refused.addSubnet(net, prefix, 'ipv6');
}

/** True for an address a webhook may not reach (without WEBHOOK_ALLOW_PRIVATE_TARGETS). */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return refused.check(mapped[1] as string, 'ipv4');
    return refused.check(address, 'ipv6');
  }
  return refused.check(address, 'ipv4');
}

export interface TargetRules {
  readonly environment: Environment;
  readonly allowPrivateTargets: boolean;
}

const invalid = (message: string): VerigateError =>
  new VerigateError('invalid_request', `url ${message}`, { errors: [{ path: 'url', message }] });

/** The URL an endpoint may have, or a 400 saying why not. */
export function checkWebhookUrl(raw: string, rules: TargetRules): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('must be http(s)');
  if (url.username || url.password) throw invalid('must not carry credentials');
  if (url.hash) throw invalid('must not have a fragment');
  if (rules.allowPrivateTargets) return url.href;
  if (rules.environment === 'live' && url.protocol !== 'https:') throw invalid('must be https on live');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && isRefusedAddress(host)) throw invalid('must not be a loopback, private or link-local address');
  if (host === 'localhost' || host.endsWith('.localhost')) throw invalid('must not be a loopback host');
  return url.href;
}
