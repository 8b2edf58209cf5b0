import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { api, consoleSession, onSignedOut, setCsrfToken } from './api';
import { ConsoleSession, isRoot, useConsole, type ConsoleContext } from './session';
import { ENVIRONMENTS, type Environment, type EnvironmentInfo, type SessionInfo } from './wire';
import { SignIn } from './pages/sign-in';
import { Overview } from './pages/overview';
import { Sites } from './pages/sites';
import { SiteDetail } from './pages/site';
import { Users } from './pages/users';
import { UserDetail } from './pages/user';
import { SigningKeys } from './pages/signing-keys';
import { AuditLog } from './pages/audit-log';
import { WebhookDeliveries } from './pages/webhook-deliveries';
import { AdminTokens } from './pages/admin-tokens';
import { NotFound } from './pages/not-found';
import { EnvironmentGate } from './pages/environment-gate';

type State =
  | { phase: 'loading' }
  | { phase: 'signed-out'; notice?: string }
  | { phase: 'signed-in'; session: SessionInfo; environments: EnvironmentInfo[] };

async function loadEnvironments(): Promise<EnvironmentInfo[]> {
  const { environments } = await api.get<{ environments: EnvironmentInfo[] }>('/admin/v1/environments');
  // Sandbox first: a person starts where mistakes are cheap.
  return [...environments].sort((a, b) => ENVIRONMENTS.indexOf(a.environment) - ENVIRONMENTS.indexOf(b.environment));
}

/** The console: a sign-in form until there is a console session, then the pages. */
export function App() {
  const [state, setState] = useState<State>({ phase: 'loading' });

  const enter = async (session: SessionInfo) => {
    setCsrfToken(session.csrfToken);
    const environments = await loadEnvironments();
    setState({ phase: 'signed-in', session, environments });
  };

  useEffect(() => {
    onSignedOut(() => {
      setCsrfToken(null);
      setState({ phase: 'signed-out', notice: 'Your console session has ended. Sign in again to go on.' });
    });
    consoleSession
      .current()
      .then((session) => (session.signedIn ? enter(session) : setState({ phase: 'signed-out' })))
      .catch(() => setState({ phase: 'signed-out' }));
  }, []);

  if (state.phase === 'loading') {
    return (
      <main id="main" class="centered">
        <p role="status">Loading the console…</p>
      </main>
    );
  }
  if (state.phase === 'signed-out') return <SignIn notice={state.notice} onSignedIn={enter} />;

  const context: ConsoleContext = {
    principal: state.session.principal,
    environments: state.environments,
    signOut: async () => {
      await consoleSession.signOut().catch(() => undefined);
      setCsrfToken(null);
      setState({ phase: 'signed-out', notice: 'You have signed out.' });
    },
  };
  return (
    <ConsoleSession.Provider value={context}>
      <LocationProvider scope="/console/">
        <Shell />
      </LocationProvider>
    </ConsoleSession.Provider>
  );
}

/** The environment named by the current path, if any (`/console/<env>/…`). */
function currentEnvironment(path: string): Environment | null {
  const segment = path.split('/')[2];
  return segment === 'live' || segment === 'sandbox' ? segment : null;
}

/** The same kind of page in the other environment; records (a site, a user) do not cross over. */
function switchedPath(path: string, to: Environment): string {
  const section = path.split('/')[3];
  if (section === 'sites' || section === 'signing-keys' || section === 'audit-log') return `/console/${to}/${section}`;
  return `/console/${to}/`;
}

function EnvironmentSwitch({ current }: { current: Environment | null }) {
  const { environments } = useConsole();
  const location = useLocation();
  return (
    <fieldset class="env-switch">
      <legend>Environment</legend>
      {environments.map(({ environment }) => (
        <label key={environment} class={`env-option env-${environment}`}>
          <input
            type="radio"
            name="environment"
            value={environment}
            checked={current === environment}
            onChange={() => location.route(switchedPath(location.path, environment))}
          />
          {environment === 'live' ? 'Live' : 'Sandbox'}
        </label>
      ))}
    </fieldset>
  );
}

function NavLink({ href, children }: { href: string; children: string }) {
  const { path } = useLocation();
  const normalized = href.replace(/\/+$/, '') || '/';
  const active = path === normalized || (normalized.split('/').length > 3 && path.startsWith(`${normalized}/`));
  return (
    <a href={href} aria-current={active ? 'page' : undefined}>
      {children}
    </a>
  );
}

/** Each page behind the check that its environment is one this principal may reach; built once. */
const pages = {
  overview: EnvironmentGate(Overview),
  sites: EnvironmentGate(Sites),
  site: EnvironmentGate(SiteDetail),
  users: EnvironmentGate(Users),
  user: EnvironmentGate(UserDetail),
  deliveries: EnvironmentGate(WebhookDeliveries),
  signingKeys: EnvironmentGate(SigningKeys),
  auditLog: EnvironmentGate(AuditLog),
};

/** `/console/`: on to the first environment (sandbox when it may). */
function Home() {
  const { environments } = useConsole();
  const { route } = useLocation();
  const first = environments[0]?.environment;
  useEffect(() => {
    if (first) route(`/console/${first}/`, true);
  }, [first]);
  return first ? null : (
    <div class="notice" role="status">
      <p>This gateway serves no environment that your token covers.</p>
    </div>
  );
}

function Shell() {
  const ctx = useConsole();
  const { path } = useLocation();
  const env = currentEnvironment(path) ?? ctx.environments[0]?.environment ?? null;

  const { principal } = ctx;
  return (
    <div class={`shell env-${env ?? 'none'}`}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="banner">
        <a class="brand" href={env ? `/console/${env}/` : '/console/'}>
          verigate console
        </a>
        <EnvironmentSwitch current={currentEnvironment(path)} />
        <div class="who">
          <span>
            Signed in as <strong>{principal.name}</strong> ({principal.role === 'write' ? 'read and write' : 'read only'}
            {principal.siteIds ? `, ${principal.siteIds.length} site${principal.siteIds.length === 1 ? '' : 's'}` : ''})
          </span>
          <button type="button" onClick={() => void ctx.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <div class="layout">
        <nav aria-label="Main" class="sidebar">
          {env && (
            <ul>
              <li>
                <NavLink href={`/console/${env}/`}>Overview</NavLink>
              </li>
              <li>
                <NavLink href={`/console/${env}/sites`}>Sites</NavLink>
              </li>
              <li>
                <NavLink href={`/console/${env}/signing-keys`}>Signing keys</NavLink>
              </li>
              <li>
                <NavLink href={`/console/${env}/audit-log`}>Audit log</NavLink>
              </li>
              {isRoot(principal) && (
                <li>
                  <NavLink href="/console/admin-tokens">Admin tokens</NavLink>
                </li>
              )}
            </ul>
          )}
        </nav>
        <main id="main" tabIndex={-1}>
          <Router>
            <Route path="/console" component={Home} />
            <Route path="/console/admin-tokens" component={AdminTokens} />
            <Route path="/console/:env" component={pages.overview} />
            <Route path="/console/:env/sites" component={pages.sites} />
            <Route path="/console/:env/sites/:siteId" component={pages.site} />
            <Route path="/console/:env/sites/:siteId/users" component={pages.users} />
            <Route path="/console/:env/sites/:siteId/users/:userId" component={pages.user} />
            <Route path="/console/:env/sites/:siteId/webhook-endpoints/:endpointId" component={pages.deliveries} />
            <Route path="/console/:env/signing-keys" component={pages.signingKeys} />
            <Route path="/console/:env/audit-log" component={pages.auditLog} />
            <Route default component={NotFound} />
          </Router>
        </main>
      </div>
    </div>
  );
}
