import { useEffect, useId, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, envPath } from '../api';
import { useInterval, useResource } from '../hooks';
import type { Environment, ExchangeSeries } from '../wire';
import { ErrorMessage } from './error-message';
import { Unavailable } from './unavailable';

/** How often the chart asks for fresh numbers. */
const REFRESH_MS = 5000;

/** One colour per outcome, with contrast on white; verified green, refusals red, not-verified reasons in between. */
const COLOURS: Record<string, string> = {
  verified: '#1a7f37',
  token_expired: '#9a6700',
  session_ended: '#8250df',
  token_invalid: '#bc4c00',
  token_malformed: '#6e7781',
  token_wrong_site: '#0969da',
  token_wrong_environment: '#1b7c83',
  user_not_found: '#bf3989',
  invalid_api_key: '#cf222e',
  api_key_wrong_environment: '#a40e26',
  missing_api_key: '#82071e',
};
const FALLBACK = ['#57606a', '#953800', '#0550ae', '#6639ba', '#116329'];

function colourOf(outcome: string, index: number): string {
  return COLOURS[outcome] ?? FALLBACK[index % FALLBACK.length] ?? '#57606a';
}

function toPlotData(data: ExchangeSeries): uPlot.AlignedData {
  const from = Date.parse(data.from) / 1000;
  const length = Math.max(0, ...data.series.map((s) => s.counts.length));
  const xs = Array.from({ length }, (_, i) => from + i * data.stepSeconds);
  return [xs, ...data.series.map((s) => s.counts.map((c) => c / data.stepSeconds))];
}

function summary(data: ExchangeSeries): { outcome: string; total: number; lastMinute: number; peak: number }[] {
  const perMinute = Math.max(1, Math.round(60 / data.stepSeconds));
  return data.series
    .map((s) => ({
      outcome: s.outcome,
      total: s.counts.reduce((a, b) => a + b, 0),
      lastMinute: s.counts.slice(-perMinute).reduce((a, b) => a + b, 0) / 60,
      peak: Math.max(0, ...s.counts) / data.stepSeconds,
    }))
    .sort((a, b) => b.total - a.total);
}

const rate = (n: number): string => (n === 0 ? '0' : n < 10 ? n.toFixed(2) : n.toFixed(0));

/**
 * Exchanges per second by outcome over the last 15 minutes, as a line chart
 * (uPlot, on a canvas) with the same numbers in a table, which is what a
 * screen reader reads: the canvas is one image with a summary for a name.
 */
export function ExchangeChart({ env }: { env: Environment }) {
  const series = useResource(() => api.get<ExchangeSeries>(envPath(env, 'stats', 'exchanges')), [env]);
  useInterval(() => void series.reload(), REFRESH_MS);
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef('');
  const captionId = useId();
  const data = series.data;

  useEffect(() => {
    const el = holder.current;
    if (!el || !data || data.series.length === 0) {
      plot.current?.destroy();
      plot.current = null;
      shape.current = '';
      return;
    }
    const key = data.series.map((s) => s.outcome).join(',');
    const aligned = toPlotData(data);
    if (plot.current && shape.current === key) {
      plot.current.setData(aligned);
      return;
    }
    plot.current?.destroy();
    shape.current = key;
    plot.current = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 260,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{ stroke: '#3d444d' }, { stroke: '#3d444d', label: 'per second' }],
        series: [
          {},
          ...data.series.map((s, i) => ({ label: s.outcome, stroke: colourOf(s.outcome, i), width: 2, points: { show: false } })),
        ],
      },
      aligned,
      el,
    );
  }, [data]);

  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      if (plot.current) plot.current.setSize({ width: Math.max(320, el.clientWidth), height: 260 });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  if (series.error?.unavailable) return <Unavailable what="The exchange chart" />;
  const rows = data ? summary(data) : [];
  const colours = new Map(data?.series.map((s, i) => [s.outcome, colourOf(s.outcome, i)]) ?? []);
  const total = rows.reduce((a, r) => a + r.total, 0);
  const description = data
    ? total === 0
      ? 'No exchanges in the last 15 minutes.'
      : `${total} exchanges in the last 15 minutes: ${rows.map((r) => `${r.outcome} ${r.total}`).join(', ')}.`
    : 'Loading.';
  return (
    <figure class="chart" aria-labelledby={captionId}>
      <figcaption id={captionId}>Exchanges per second by outcome, last 15 minutes</figcaption>
      <ErrorMessage error={series.error && !series.error.unavailable ? series.error : null} />
      <div ref={holder} class="chart-canvas" role="img" aria-label={description} hidden={!data || data.series.length === 0} />
      {data && data.series.length === 0 && <p class="muted">No exchanges in the last 15 minutes.</p>}
      {rows.length > 0 && (
        <table class="chart-table">
          <caption>The same numbers</caption>
          <thead>
            <tr>
              <th scope="col">Outcome</th>
              <th scope="col">Exchanges (15 min)</th>
              <th scope="col">Per second (last minute)</th>
              <th scope="col">Peak per second</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.outcome}>
                <th scope="row">
                  <span class="swatch" aria-hidden="true" ref={(el) => {
                      el?.style.setProperty('--swatch', colours.get(r.outcome) ?? '#57606a');
                    }} />
                  {r.outcome}
                </th>
                <td>{r.total}</td>
                <td>{rate(r.lastMinute)}</td>
                <td>{rate(r.peak)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </figure>
  );
}
