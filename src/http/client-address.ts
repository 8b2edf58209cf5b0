import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import proxyAddr from 'proxy-addr';
import type { TrustProxy } from '../config';

/** The client's address as this listener sees it, from the request alone (synchronous). */
export type ClientAddressOf = (req: IncomingMessage) => string;

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** `::ffff:192.0.2.1` (a dual-stack listener's view of an IPv4 peer) as `192.0.2.1`; anything else as it is. */
function unmapped(address: string): string {
  const mapped = MAPPED_V4.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

/**
 * How a listener settles the client's address (SPEC §7 `TRUST_PROXY`),
 * with proxy-addr, the module Express's `trust proxy` is built on: by
 * default the TCP peer, `X-Forwarded-For` never read; with a hop count,
 * that many proxies in front (the client is the address they name, that
 * many from the right); with a list, the right-most address of the chain
 * (peer, then `X-Forwarded-For` right to left) that is not in the list.
 *
 * @example
 * ```ts
 * const clientAddressOf = clientAddressResolver({ kind: 'list', entries: ['loopback'] });
 * clientAddressOf(req); // '203.0.113.9' for a request relayed by a local proxy
 * ```
 */
export function clientAddressResolver(trust: TrustProxy): ClientAddressOf {
  if (trust.kind === 'none') return (req) => unmapped(req.socket.remoteAddress ?? 'unknown');
  const trusted =
    trust.kind === 'hops' ? (_address: string, hop: number): boolean => hop < trust.hops : proxyAddr.compile([...trust.entries]);
  return (req) => (req.socket.remoteAddress === undefined ? 'unknown' : unmapped(proxyAddr(req, trusted)));
}

/**
 * The key a client address is counted under by the per-address limits:
 * an IPv4 address as it is, an IPv6 address by its /64 (one end site
 * usually holds a whole /64, and can pick any address in it). Anything
 * that is not an address (only a trusted proxy can make it so) is counted
 * as it is, at most 64 characters of it.
 */
export function addressKey(address: string): string {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return address.slice(0, 64);
  try {
    const parsed = ipaddr.IPv6.parse(address);
    if (parsed.isIPv4MappedAddress()) return parsed.toIPv4Address().toString();
    const [a, b, c, d] = parsed.parts as [number, number, number, number];
    return `${new ipaddr.IPv6([a, b, c, d, 0, 0, 0, 0]).toString()}/64`;
  } catch {
    return address.slice(0, 64);
  }
}
