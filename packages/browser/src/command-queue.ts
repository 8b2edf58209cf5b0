import type { InitOptions, UserChangeListener, Verigate } from './client.js';
import type { VerigateUser } from './protocol.js';

/**
 * The global `verigate` function of the script build: one call per SDK
 * method, by name, so that a page can call it before the script has loaded
 * (the calls wait in `verigate.q`, as with Intercom's and Replyful's
 * snippets) and in exactly the same way afterwards. Each call returns what
 * the method returns (a promise for `identify`, `resetUser`, `init`,
 * `getUserVerificationToken`).
 *
 * ```html
 * <script>
 *   window.verigate=window.verigate||function(){(window.verigate.q=window.verigate.q||[]).push(arguments)};
 * </script>
 * <script async src="https://api.example.com/sdk/v1/verigate.js" data-verigate-key="vg_live_pk_…"></script>
 * ```
 *
 * @example
 * ```ts
 * const verigate = (window as unknown as { verigate: VerigateCommandFunction }).verigate;
 * verigate('on', 'userChange', (user) => console.log(user?.userId ?? 'anonymous'));
 * verigate('identify', { token: identityTokenFromYourBackend });
 * verigate('resetUser');
 * ```
 */
export interface VerigateCommandFunction {
  (command: 'init', options: InitOptions): Promise<void>;
  (command: 'identify', identity: { token: string } | string): Promise<VerigateUser | null>;
  (command: 'resetUser'): Promise<void>;
  (command: 'on' | 'off', event: 'userChange', listener: UserChangeListener): void;
  (command: 'getUserVerificationToken'): Promise<string | null>;
  /** The calls made before the script loaded: the snippet's stand-in keeps them here; the SDK's own function has none. */
  q?: ArrayLike<unknown>[];
}

/** The commands by name: each takes the call's arguments and calls the SDK. */
const COMMANDS: Record<string, (verigate: Verigate, args: unknown[]) => unknown> = {
  init: (v, [options]) => v.init(options as InitOptions),
  identify: (v, [identity]) => {
    // `{ token }` as the vendors' snippets pass it, or the token itself.
    const token = identity !== null && typeof identity === 'object' ? (identity as { token?: unknown }).token : identity;
    return v.identify(token as string);
  },
  resetUser: (v) => v.resetUser(),
  on: (v, [event, listener]) => v.on(event as 'userChange', listener as UserChangeListener),
  off: (v, [event, listener]) => v.off(event as 'userChange', listener as UserChangeListener),
  getUserVerificationToken: (v) => v.getUserVerificationToken(),
};

/** Runs one command; an unknown one is the caller's mistake (a `TypeError`). */
function run(verigate: Verigate, call: ArrayLike<unknown>): unknown {
  const [command, ...args] = Array.from(call);
  const handler = typeof command === 'string' && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!handler) {
    throw new TypeError(`verigate: unknown command ${JSON.stringify(command)} (expected one of ${Object.keys(COMMANDS).join(', ')})`);
  }
  return handler(verigate, args);
}

/** Reports a failed queued call: nobody awaits it, and it must not stop the calls after it. */
function report(err: unknown): void {
  console.error(err);
}

/**
 * Makes `verigate(command, …args)` call `verigate`, then replays the calls
 * the page queued in `pending` before the script loaded, in the order they
 * were made. The SDK serialises `init`, `identify` and `resetUser` itself,
 * so calling them one after another here keeps their effects in that
 * order. A queued call that fails (an unknown command, `identify` before
 * any `init`) is reported on the console and the rest still run.
 *
 * @example
 * ```ts
 * const verigate = createVerigate();
 * const command = commandFunction(verigate, window.verigate?.q ?? []);
 * window.verigate = command;
 * ```
 */
export function commandFunction(verigate: Verigate, pending: ArrayLike<ArrayLike<unknown>>): VerigateCommandFunction {
  const command = ((...args: unknown[]) => run(verigate, args)) as VerigateCommandFunction;
  for (const call of Array.from(pending)) {
    try {
      const result = run(verigate, call);
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  }
  return command;
}
