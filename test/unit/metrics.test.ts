import { register as globalRegistry } from 'prom-client';
import { createMetrics } from '../../src/ops/metrics';

describe('createMetrics', () => {
  it('exposes the gateway metrics on its own registry', async () => {
    const metrics = createMetrics();
    metrics.httpRequests.inc({ environment: 'live', route: '/live_api/s2s/v1/users/verification', method: 'POST', status: '200' });
    metrics.httpDuration.observe({ environment: 'live', route: '/live_api/s2s/v1/users/verification' }, 0.004);
    metrics.exchangeOutcomes.inc({ environment: 'live', outcome: 'verified' });
    metrics.storeErrors.inc({ environment: 'sandbox' });

    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'verigate_http_requests_total{environment="live",route="/live_api/s2s/v1/users/verification",method="POST",status="200"} 1',
    );
    expect(text).toContain('verigate_http_request_duration_seconds_bucket{le="0.005",environment="live"');
    expect(text).toContain('verigate_exchange_outcomes_total{environment="live",outcome="verified"} 1');
    expect(text).toContain('verigate_store_errors_total{environment="sandbox"} 1');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(metrics.registry.contentType).toMatch(/^text\/plain/);
  });

  it('builds independent registries, never the global one', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.storeErrors.inc({ environment: 'live' });
    expect(await b.registry.getSingleMetricAsString('verigate_store_errors_total')).not.toContain('} 1');
    expect(globalRegistry.getSingleMetric('verigate_store_errors_total')).toBeUndefined();
  });
});
