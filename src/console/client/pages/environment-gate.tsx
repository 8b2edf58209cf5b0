import type { ComponentType } from 'preact';
import { useConsole } from '../session';
import type { Environment } from '../wire';
import { Page } from '../components/page';
import { decodeSegment } from '../routing';

export interface EnvironmentPageProps {
  readonly env: Environment;
  readonly params: Record<string, string>;
}

/**
 * Wraps a page of one environment: the `:env` of the path must be one this
 * gateway serves and the signed-in token covers; otherwise the page says so
 * (the admin API would refuse it anyway, with `forbidden` or `not_found`).
 */
export function EnvironmentGate(Inner: ComponentType<EnvironmentPageProps>) {
  return function GatedPage({ params: raw }: { params: Record<string, string | undefined> }) {
    const { environments } = useConsole();
    const params = Object.fromEntries(
      Object.entries(raw).flatMap(([k, v]) => (v === undefined ? [] : [[k, decodeSegment(v)]])),
    ) as Record<string, string>;
    const env = params.env;
    if (env !== 'live' && env !== 'sandbox') {
      return (
        <Page title="Page not found">
          <p>There is no such page in the console.</p>
        </Page>
      );
    }
    if (!environments.some((e) => e.environment === env)) {
      return (
        <Page title={`No access to ${env}`}>
          <p>
            This gateway does not serve the {env} environment, or your admin token does not cover it. Choose another
            environment above.
          </p>
        </Page>
      );
    }
    return <Inner env={env} params={params} />;
  };
}
