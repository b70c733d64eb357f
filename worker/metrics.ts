/**
 * Worker metrics on one Prometheus endpoint (`METRICS_PORT`, path /metrics):
 *
 * - Temporal's runtime metrics (Core): task latencies, slots, polls, sticky cache, activity and workflow
 *   outcomes — prefixed `temporal_`.
 * - Onboardings started / completed / failed and time waiting for funds — counted inside the workflow by
 *   the interceptors in metrics-workflow.ts, through the replay-safe workflow metric meter.
 * - Layers calls by route and status, their duration, and 429s — from the LayersClient `onCall` hook.
 *
 * Everything goes through the SDK's metric meter, so there is one exporter, one port and one format.
 */
import type { MetricMeter } from '@temporalio/common';
import { Runtime, type MetricsExporterConfig } from '@temporalio/worker';
import type { LayersCallRecord } from '../activities/layers';
import { METRIC_NAMES } from './metric-names';

export { METRIC_NAMES };

export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** Workflow interceptor module to bundle with the workflows (createWorker adds it when it bundles). */
export const METRICS_WORKFLOW_INTERCEPTORS = require.resolve('./metrics-workflow');

const MS_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];
const FUNDS_WAIT_BUCKETS = [
  1_000, 10_000, 60_000, 300_000, 900_000, 3_600_000, 14_400_000, 86_400_000, 604_800_000,
];

/**
 * Telemetry options for `Runtime.install`: a Prometheus endpoint at host:port. Loopback unless the
 * operator says otherwise (`METRICS_HOST`): the metrics name customers' routes and the worker's load,
 * nothing a neighbour on the network needs to read.
 */
export function prometheusExporter(port: number, host = DEFAULT_METRICS_HOST): MetricsExporterConfig {
  return {
    prometheus: {
      bindAddress: `${host.includes(':') ? `[${host}]` : host}:${port}`,
      countersTotalSuffix: true,
      histogramBucketOverrides: {
        [METRIC_NAMES.apiCallDuration]: MS_BUCKETS,
        [METRIC_NAMES.fundsWait]: FUNDS_WAIT_BUCKETS,
      },
    },
  };
}

/** Records every Layers call; pass `onCall` to the LayersClient the activities use. Create it after Runtime.install. */
export class LayersCallMetrics {
  private readonly calls;
  private readonly duration;
  private readonly rateLimited;

  constructor(meter: MetricMeter = Runtime.instance().metricMeter) {
    this.calls = meter.createCounter(METRIC_NAMES.apiCalls, 'calls', 'Layers API calls by route and status');
    this.duration = meter.createHistogram(
      METRIC_NAMES.apiCallDuration,
      'float',
      'ms',
      'Duration of Layers API calls',
    );
    this.rateLimited = meter.createCounter(
      METRIC_NAMES.rateLimited,
      'calls',
      'Layers API calls answered 429 (rate limited)',
    );
  }

  readonly onCall = (call: LayersCallRecord): void => {
    const tags = { method: call.method, route: call.route };
    this.calls.add(1, {
      ...tags,
      status: String(call.status),
      endpoint_class: call.endpointClass ?? 'unknown',
    });
    this.duration.record(call.durationMs, tags);
    if (call.status === 429) this.rateLimited.add(1, tags);
  };
}

/** A scrape, parsed into `name{labels}` → value (tests and the benchmark read the endpoint with it). */
export function parsePrometheusText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Sum of every series of a metric whose labels include all of `labels`. */
export function sumMetric(
  scrape: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const [series, value] of scrape) {
    const brace = series.indexOf('{');
    if ((brace < 0 ? series : series.slice(0, brace)) !== name) continue;
    const labelText = brace < 0 ? '' : series.slice(brace);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}
