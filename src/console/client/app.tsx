import { useEffect, useState } from 'preact/hooks';
import { Route, Router, Switch, useLocation } from 'wouter-preact';
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
import { href, navigate, useHashLocation } from './routing';

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
      <Router hook={useHashLocation}>
        <Shell />
      </Router>
    </ConsoleSession.Provider>
  );
}

/** The environment named by the current path, if any (`/<env>/…` in the fragment). */
function currentEnvironment(path: string): Environment | null {
  const segment = path.split('/')[1];
  return segment === 'live' || segment === 'sandbox' ? segment : null;
}

/** The same kind of page in the other environment; records (a site, a user) do not cross over. */
function switchedPath(path: string, to: Environment): string {
  const section = path.split('/')[2];
  if (section === 'sites' || section === 'signing-keys' || section === 'audit-log') return `/${to}/${section}`;
  return `/${to}`;
}

function EnvironmentSwitch({ current }: { current: Environment | null }) {
  const { environments } = useConsole();
  const [path] = useLocation();
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
            onChange={() => navigate(switchedPath(path, environment))}
          />
          {environment === 'live' ? 'Live' : 'Sandbox'}
        </label>
      ))}
    </fieldset>
  );
}

/** A link of the main navigation; the current section's says so (`aria-current="page"`). */
function NavLink({ to, children }: { to: string; children: string }) {
  const [path] = useLocation();
  const active = path === to || (to.split('/').length > 2 && path.startsWith(`${to}/`));
  return (
    <a href={href(to)} aria-current={active ? 'page' : undefined}>
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

/** `#/`: on to the first environment (sandbox when it may). */
function Home() {
  const { environments } = useConsole();
  const first = environments[0]?.environment;
  useEffect(() => {
    if (first) navigate(`/${first}`, { replace: true });
  }, [first]);
  return first ? null : (
    <div class="notice" role="status">
      <p>This gateway serves no environment that your token covers.</p>
    </div>
  );
}

function Shell() {
  const ctx = useConsole();
  const [path] = useLocation();
  const env = currentEnvironment(path) ?? ctx.environments[0]?.environment ?? null;

  const { principal } = ctx;
  return (
    <div class={`shell env-${env ?? 'none'}`}>
      {/* The fragment holds the page's path, so the skip link moves focus itself instead of changing it. */}
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="banner">
        <a class="brand" href={href(env ? `/${env}` : '/')}>
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
                <NavLink to={`/${env}`}>Overview</NavLink>
              </li>
              <li>
                <NavLink to={`/${env}/sites`}>Sites</NavLink>
              </li>
              <li>
                <NavLink to={`/${env}/signing-keys`}>Signing keys</NavLink>
              </li>
              <li>
                <NavLink to={`/${env}/audit-log`}>Audit log</NavLink>
              </li>
              {isRoot(principal) && (
                <li>
                  <NavLink to="/admin-tokens">Admin tokens</NavLink>
                </li>
              )}
            </ul>
          )}
        </nav>
        <main id="main" tabIndex={-1}>
          <Switch>
            <Route path="/" component={Home} />
            <Route path="/admin-tokens" component={AdminTokens} />
            <Route path="/:env" component={pages.overview} />
            <Route path="/:env/sites" component={pages.sites} />
            <Route path="/:env/sites/:siteId" component={pages.site} />
            <Route path="/:env/sites/:siteId/users" component={pages.users} />
            <Route path="/:env/sites/:siteId/users/:userId" component={pages.user} />
            <Route path="/:env/sites/:siteId/webhook-endpoints/:endpointId" component={pages.deliveries} />
            <Route path="/:env/signing-keys" component={pages.signingKeys} />
            <Route path="/:env/audit-log" component={pages.auditLog} />
            <Route component={NotFound} />
          </Switch>
        </main>
      </div>
    </div>
  );
}
