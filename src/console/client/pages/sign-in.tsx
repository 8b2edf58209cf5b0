import { useEffect, useRef, useState } from 'preact/hooks';
import { consoleSession } from '../api';
import { useAction } from '../hooks';
import { ErrorMessage } from '../components/error-message';
import type { SessionInfo } from '../wire';

/**
 * Sign-in: the admin token (root or scoped) is sent once and exchanged for an
 * HttpOnly session cookie; the page forgets it at once.
 */
export function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: (session: SessionInfo) => Promise<void> }) {
  const [token, setToken] = useState('');
  const input = useRef<HTMLInputElement>(null);
  const signIn = useAction(async () => {
    const session = await consoleSession.signIn(token.trim());
    setToken('');
    await onSignedIn(session);
  });
  useEffect(() => {
    document.title = 'Sign in · verigate console';
    input.current?.focus();
  }, []);
  return (
    <>
      <header class="banner">
        <span class="brand">verigate console</span>
      </header>
      <main id="main" class="centered">
        <div class="card sign-in">
          <h1>Sign in to the verigate console</h1>
          {notice && (
            <p class="notice" role="status">
              {notice}
            </p>
          )}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void signIn.run();
            }}
          >
            <label for="admin-token">Admin token</label>
            <input
              ref={input}
              id="admin-token"
              type="password"
              autoComplete="off"
              spellcheck={false}
              required
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
              aria-describedby="admin-token-hint"
            />
            <p id="admin-token-hint" class="hint">
              The root token (<code>VERIGATE_ADMIN_TOKEN</code>; <code>npm start</code> prints one it generated) or a
              scoped token (<code>vg_admin_…</code>). It becomes a session cookie for this console; the page does not
              keep it.
            </p>
            <ErrorMessage error={signIn.error} prefix="Sign-in refused" />
            <button type="submit" class="primary" aria-disabled={signIn.busy || undefined}>
              Sign in
            </button>
          </form>
        </div>
      </main>
    </>
  );
}
