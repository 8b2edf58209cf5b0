import { adminClient, startGateway, verificationTokenFor } from '../support/gateway';
import { createVerigateClient } from '@verigate/node';

/**
 * The @verigate/node client's wait before retrying a 503, on Jest's fake
 * clock. A file of its own so that nothing else in the process schedules
 * timers while the clock is fake: the gateway that produced the replayed
 * answer is closed first, and getTimerCount() counts the client's timer only
 * (beside the other SDK tests, the in-process gateway's Redis command
 * timeouts and exchange-count flushes landed on the fake clock under load).
 */
describe('the wait before a retry, on a fake clock', () => {
  /** The gateway's own answer to one exchange, replayed by the scripted fetch below. */
  let verifiedBody: string;
  let apiKey: string;
  let token: string;
  beforeAll(async () => {
    const gw = await startGateway();
    try {
      const admin = adminClient(gw, 'live');
      const live = await admin.provisionSite();
      apiKey = live.apiKey;
      await admin.putUser(live.siteId, 'ada', { email: 'ada@example.com', name: 'Ada', attributes: {}, productAccess: [] });
      token = await verificationTokenFor(gw, 'live', await admin.createSession(live.siteId, 'ada'));
      const res = await fetch(`${gw.urls.live}/live_api/s2s/v1/users/verification`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ userVerificationToken: token }),
      });
      expect(res.status).toBe(200);
      verifiedBody = await res.text();
    } finally {
      // Closed before any test fakes the clock: its Redis commands and periodic flushes would
      // otherwise schedule their timers on the fake clock and count in getTimerCount().
      await gw.close();
    }
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /**
   * A fetch that answers 503 with `retryAfter` first, then the verified
   * answer, and notes the (fake) time of every call.
   */
  const scripted = (retryAfter: string | null) => {
    const calledAt: number[] = [];
    const fetchFn: typeof fetch = async () => {
      calledAt.push(Date.now());
      if (calledAt.length > 1) return new Response(verifiedBody, { status: 200, headers: { 'content-type': 'application/json' } });
      return new Response(JSON.stringify({ type: 'urn:verigate:error:store_unavailable', title: 'x', status: 503, code: 'store_unavailable', requestId: 'r' }), {
        status: 503,
        headers: { 'content-type': 'application/problem+json', ...(retryAfter !== null && { 'retry-after': retryAfter }) },
      });
    };
    return { calledAt, fetch: fetchFn };
  };

  /** Runs one verifyUser, moves the fake clock to `waitMs - 1` (no retry yet), then to `waitMs` (the retry). */
  const expectRetryAfterExactly = async (waitMs: number, options: { retryAfter: string | null; maxRetryDelayMs?: number }) => {
    jest.useFakeTimers({ now: 1_800_000_000_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { calledAt, fetch: fetchFn } = scripted(options.retryAfter);
    const pending = createVerigateClient({ apiKey, baseUrl: 'http://127.0.0.1:1', fetch: fetchFn, ...(options.maxRetryDelayMs !== undefined && { maxRetryDelayMs: options.maxRetryDelayMs }) }).verifyUser(token);
    // The first answer read, the client is waiting on its (fake) timer.
    await jest.advanceTimersByTimeAsync(0);
    expect(calledAt).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(waitMs - 1);
    expect(calledAt).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calledAt).toHaveLength(2);
    expect(calledAt[1]! - calledAt[0]!).toBe(waitMs);
    await expect(pending).resolves.toMatchObject({ isAuthenticated: true });
  };

  it('waits what Retry-After says', async () => {
    await expectRetryAfterExactly(1000, { retryAfter: '1' });
  });

  it('caps Retry-After by maxRetryDelayMs', async () => {
    await expectRetryAfterExactly(150, { retryAfter: '30', maxRetryDelayMs: 150 });
  });

  it('reads Retry-After as an HTTP date too', async () => {
    // 2 s after the fake clock's start (1_800_000_000_000 = Fri, 15 Jan 2027 08:00:00 GMT).
    await expectRetryAfterExactly(2000, { retryAfter: 'Fri, 15 Jan 2027 08:00:02 GMT' });
  });
});
