/**
 * A customer's React page, built by Vite (test/e2e/react.e2e.test.ts):
 * `@verigate/react` as its README shows it. The page's backend (the test's
 * page server) answers /config.json with the public values and an identity
 * token for the visitor it knows, as a server-rendered page would pass it.
 */
import { Component, StrictMode, useEffect, useState, version, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { VerigateProvider, useVerificationToken, useVerigate, useVerigateUser } from '@verigate/react';

interface PageConfig {
  publishableKey: string;
  baseUrl: string;
  identityToken: string | null;
}

function Profile({ onSwitch }: { onSwitch: (userId: string | null) => void }) {
  const user = useVerigateUser();
  const verigate = useVerigate();
  const getVerificationToken = useVerificationToken();
  const [token, setToken] = useState('');
  return (
    <main>
      <p id="react">React {version}</p>
      <p id="user">{user ? `Signed in as ${user.name ?? user.userId}` : 'Not signed in'}</p>
      <p id="error">{verigate.lastError?.reason ?? ''}</p>
      <button onClick={async () => setToken((await getVerificationToken()) ?? 'none')}>Get token</button>
      <button onClick={() => onSwitch('grace')}>Switch to Grace</button>
      <button onClick={() => onSwitch(null)}>Sign out</button>
      <output id="token">{token}</output>
    </main>
  );
}

/**
 * Asks for a token as it mounts: before the provider's own effects have
 * started the SDK. Every call and its outcome are kept in `window.early`
 * (StrictMode runs the effect twice: each run must succeed).
 */
function EarlyToken() {
  const getVerificationToken = useVerificationToken();
  useEffect(() => {
    const early = ((window as unknown as { early?: { calls: number; results: string[] } }).early ??= { calls: 0, results: [] });
    early.calls += 1;
    getVerificationToken().then(
      (t) => early.results.push(t ?? 'none'),
      (err: unknown) => early.results.push(`error ${String(err)}`),
    );
  }, [getVerificationToken]);
  return null;
}

/** Where a misconfiguration the provider throws ends up. */
class Boundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override render() {
    const { error } = this.state;
    if (error === null) return this.props.children;
    return <p id="boundary">{(error as { code?: string }).code ?? String(error)}</p>;
  }
}

function Page({ config }: { config: PageConfig }) {
  const [identityToken, setIdentityToken] = useState(config.identityToken);
  // Your backend signs a token for whom it has signed in; null when nobody is.
  const switchTo = async (userId: string | null) =>
    setIdentityToken(userId === null ? null : ((await (await fetch(`/identity/${userId}`)).json()) as { identityToken: string }).identityToken);
  return (
    <VerigateProvider publishableKey={config.publishableKey} baseUrl={config.baseUrl} identityToken={identityToken}>
      <Profile onSwitch={(userId) => void switchTo(userId)} />
      <EarlyToken />
    </VerigateProvider>
  );
}

const config = (await (await fetch('/config.json')).json()) as PageConfig;
createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <Boundary>
      <Page config={config} />
    </Boundary>
  </StrictMode>,
);
