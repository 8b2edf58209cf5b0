import type { IncomingMessage } from 'node:http';
import { addressKey, clientAddressResolver } from '../../src/http/client-address';

/** A request as proxy-addr reads it: the peer, and X-Forwarded-For when given. */
const request = (peer: string, forwardedFor?: string): IncomingMessage =>
  ({ socket: { remoteAddress: peer }, connection: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('clientAddressResolver (TRUST_PROXY, proxy-addr semantics)', () => {
  it('none: the peer, whatever X-Forwarded-For says; an IPv4-mapped peer as IPv4', () => {
    const of = clientAddressResolver({ kind: 'none' });
    expect(of(request('203.0.113.5', '198.51.100.1'))).toBe('203.0.113.5');
    expect(of(request('::ffff:203.0.113.5', '198.51.100.1'))).toBe('203.0.113.5');
  });

  it('a hop count: the address that many proxies name, counted from the right', () => {
    expect(clientAddressResolver({ kind: 'hops', hops: 1 })(request('10.0.0.1', '6.6.6.6, 198.51.100.1'))).toBe('198.51.100.1');
    expect(clientAddressResolver({ kind: 'hops', hops: 2 })(request('10.0.0.1', '6.6.6.6, 198.51.100.1'))).toBe('6.6.6.6');
    // Fewer entries than hops: the furthest one there is.
    expect(clientAddressResolver({ kind: 'hops', hops: 3 })(request('10.0.0.1', '198.51.100.1'))).toBe('198.51.100.1');
  });

  it('a list: the right-most address not in it; an untrusted peer is the client, its header ignored', () => {
    const of = clientAddressResolver({ kind: 'list', entries: ['10.0.0.0/8', 'loopback'] });
    expect(of(request('10.1.2.3', '6.6.6.6, 198.51.100.1, 10.9.9.9'))).toBe('198.51.100.1');
    expect(of(request('::ffff:127.0.0.1', '198.51.100.1'))).toBe('198.51.100.1');
    expect(of(request('203.0.113.5', '198.51.100.1'))).toBe('203.0.113.5');
  });
});

describe('addressKey (what per-address limits count)', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['::1', '::/64'],
    ['not-an-address', 'not-an-address'],
    ['x'.repeat(100), 'x'.repeat(64)],
  ])('%s counts as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
