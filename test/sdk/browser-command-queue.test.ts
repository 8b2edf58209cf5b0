/**
 * The script build's `verigate(command, …args)` (packages/browser/src/command-queue.ts):
 * how each command maps onto the SDK, on a recording stand-in for the SDK
 * (the replay against a real gateway in Chromium is
 * test/e2e/snippet-queue.e2e.test.ts).
 */
import type { Verigate } from '@verigate/browser';
import { commandFunction } from '../../packages/browser/src/command-queue';

function recordingSdk(): { sdk: Verigate; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const record = (name: string, result?: unknown) => (...args: unknown[]) => {
    calls.push([name, ...args]);
    return result;
  };
  const sdk = {
    init: record('init', Promise.resolve()),
    identify: record('identify', Promise.resolve(null)),
    resetUser: record('resetUser', Promise.resolve()),
    on: record('on'),
    off: record('off'),
    getUserVerificationToken: record('getUserVerificationToken', Promise.resolve('token')),
  } as unknown as Verigate;
  return { sdk, calls };
}

it('replays queued calls in order, each onto its SDK method; identify takes { token } or the token', () => {
  const { sdk, calls } = recordingSdk();
  const listener = () => undefined;
  commandFunction(sdk, [
    ['init', { publishableKey: 'vg_sandbox_pk_x' }],
    ['on', 'userChange', listener],
    ['identify', { token: 'a' }],
    ['identify', 'b'],
    ['resetUser'],
    ['off', 'userChange', listener],
    ['getUserVerificationToken'],
  ]);
  expect(calls).toEqual([
    ['init', { publishableKey: 'vg_sandbox_pk_x' }],
    ['on', 'userChange', listener],
    ['identify', 'a'],
    ['identify', 'b'],
    ['resetUser'],
    ['off', 'userChange', listener],
    ['getUserVerificationToken'],
  ]);
});

it("a queued call that fails is reported and the rest still run; called directly, an unknown command throws a TypeError", async () => {
  const { sdk, calls } = recordingSdk();
  const reported: unknown[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((err: unknown) => void reported.push(err));
  try {
    const verigate = commandFunction(sdk, [['nonsense'], ['toString'], ['resetUser']]);
    expect(calls).toEqual([['resetUser']]);
    // Inherited names are not commands either.
    expect(reported.map((e) => (e as Error).message)).toEqual([
      expect.stringContaining('unknown command "nonsense"'),
      expect.stringContaining('unknown command "toString"'),
    ]);
    expect(() => (verigate as unknown as (c: string) => unknown)('nonsense')).toThrow(TypeError);
    // Called directly, it returns what the SDK method returns.
    await expect(verigate('getUserVerificationToken')).resolves.toBe('token');
  } finally {
    spy.mockRestore();
  }
});
