import { api, envPath } from '../api';
import { useResource } from '../hooks';
import { publicUrlOf, useConsole } from '../session';
import type { Site } from '../wire';
import { ExchangeChart } from '../components/exchange-chart';
import { ErrorMessage } from '../components/error-message';
import { Loading, Page, Section } from '../components/page';
import type { EnvironmentPageProps } from './environment-gate';

export function Overview({ env }: EnvironmentPageProps) {
  const ctx = useConsole();
  const sites = useResource(() => api.get<{ sites: Site[] }>(envPath(env, 'sites')), [env]);
  const baseUrl = publicUrlOf(ctx, env);
  const wholeEnvironment = ctx.principal.siteIds === null;
  return (
    <Page title={`Overview of ${env}`}>
      <dl class="facts">
        <dt>Base URL</dt>
        <dd>
          <code>{baseUrl ?? 'unknown'}</code>
        </dd>
        <dt>Sites</dt>
        <dd>
          {sites.data ? (
            <a href={`#/${env}/sites`}>
              {sites.data.sites.length} site{sites.data.sites.length === 1 ? '' : 's'}
            </a>
          ) : sites.error ? (
            <ErrorMessage error={sites.error} />
          ) : (
            <Loading what="sites" />
          )}
        </dd>
      </dl>
      <Section title="Exchanges">
        {wholeEnvironment ? (
          <ExchangeChart env={env} />
        ) : (
          <p class="notice">
            The exchange chart covers every site of the environment; your admin token is limited to some sites.
          </p>
        )}
      </Section>
    </Page>
  );
}
