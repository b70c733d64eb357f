import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ClientInterceptors } from '@temporalio/client';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import { ConfigError, type Env } from './connection';
import { redactSecrets } from './redact';

// Node-only: workflows never import this (eslint.config.mjs). Their side of the trace is the interceptor
// module workflows/tracing-interceptors.ts, whose spans reach this process's span processor through a sink.
//
// Only @opentelemetry/api is loaded up front: the SDK, the OTLP exporter and the interceptors (about a
// second of start-up for the CLI) are required when tracing is on.
/* eslint-disable @typescript-eslint/no-require-imports */

/** The workflow interceptor module a worker bundles when tracing is on. */
export const TRACING_WORKFLOW_INTERCEPTORS = require.resolve('../workflows/tracing-interceptors');

/** What this process traces with: one provider, registered globally (context manager, W3C propagator). */
export interface Tracing {
  readonly tracer: Tracer;
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  /** Sends what is buffered; tests call it before reading their exporter. */
  forceFlush(): Promise<void>;
  /** Flushes and stops exporting; the process calls it once, before it exits. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** service.name of the spans, unless OTEL_SERVICE_NAME says otherwise. */
  serviceName: string;
  /** Spans go here, one by one as they end, instead of to OTLP (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter;
  env?: Env;
}

let installed: Tracing | undefined;

/**
 * Tracing for this process, built once: on when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set
 * and OTEL_SDK_DISABLED is not `true`, or when an exporter is given. Otherwise undefined and nothing is
 * installed — no provider, no interceptors, and the Layers client's `propagation.inject` stays the API's
 * no-op. A second call returns the first result.
 */
export function setUpTracing(options: TracingOptions): Tracing | undefined {
  if (installed) return installed;
  const env = options.env ?? process.env;
  if (!options.exporter && env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const url = options.exporter ? undefined : otlpTracesUrl(env);
  if (!options.exporter && !url) return undefined;
  const { BatchSpanProcessor, SimpleSpanProcessor } =
    require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { NodeTracerProvider } =
    require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { Resource } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { ATTR_SERVICE_NAME } =
    require('@opentelemetry/semantic-conventions') as typeof import('@opentelemetry/semantic-conventions');
  let processor: SpanProcessor;
  if (options.exporter) {
    processor = new SimpleSpanProcessor(options.exporter);
  } else {
    const { OTLPTraceExporter } =
      require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    // OTEL_EXPORTER_OTLP_HEADERS and _TIMEOUT are read by the exporter itself.
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url }));
  }
  const resource = new Resource({
    [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME?.trim() || options.serviceName,
  });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // AsyncLocalStorage context (the activity's span is active while it calls Layers) and W3C traceparent.
  provider.register();
  installed = {
    tracer: provider.getTracer('layers-onboarding'),
    resource,
    spanProcessor: processor,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
  return installed;
}

/** The tracing setUpTracing installed in this process, if any. */
export function activeTracing(): Tracing | undefined {
  return installed;
}

/** The traces URL: _TRACES_ENDPOINT as given, or the OTLP base endpoint plus `v1/traces` (the OTLP spec's rule). */
function otlpTracesUrl(env: Env): string | undefined {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const) {
    const value = env[name]?.trim();
    if (!value) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`${name}: must be an http(s) URL such as http://localhost:4318`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigError(`${name}: must be an http(s) URL (OTLP over HTTP), not ${url.protocol}`);
    return name === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' ? value : `${value.replace(/\/+$/, '')}/v1/traces`;
  }
  return undefined;
}

/** The client's StartWorkflow/Signal/Update spans, and the trace context they carry into the workflow. */
export function clientTracingInterceptors(
  tracing: Tracing | undefined = installed,
): ClientInterceptors | undefined {
  if (!tracing) return undefined;
  const { OpenTelemetryWorkflowClientInterceptor } =
    require('@temporalio/interceptors-opentelemetry/lib/client') as typeof import('@temporalio/interceptors-opentelemetry/lib/client');
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}

/** Activity spans (the context Layers calls inject) and the sink that receives the workflows' spans. */
export function workerTracing(tracing: Tracing): {
  activity: NonNullable<WorkerInterceptors['activity']>;
  sinks: InjectedSinks<OpenTelemetrySinks>;
} {
  const {
    OpenTelemetryActivityInboundInterceptor,
    OpenTelemetryActivityOutboundInterceptor,
    makeWorkflowExporter,
  } =
    require('@temporalio/interceptors-opentelemetry/lib/worker') as typeof import('@temporalio/interceptors-opentelemetry/lib/worker');
  return {
    activity: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: {
      exporter: makeWorkflowExporter(primitiveAttributesOnly(tracing.spanProcessor), tracing.resource),
    },
  };
}

/**
 * The workflow sink copies the whole WorkflowInfo onto each workflow span: memo, search attributes, the last
 * result or failure, parent and root. Only its plain values (ids, type, task queue, attempt, history length)
 * are valid span attributes; the nested ones are dropped so no memo or result ever leaves through a trace.
 */
function primitiveAttributesOnly(processor: SpanProcessor): SpanProcessor {
  const plain = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);
  return {
    onStart: (span, parentContext) => processor.onStart(span, parentContext),
    onEnd(span) {
      const attributes = span.attributes as Record<string, unknown>;
      for (const [key, value] of Object.entries(attributes)) {
        if (!(plain(value) || (Array.isArray(value) && value.every(plain)))) delete attributes[key];
      }
      processor.onEnd(span);
    },
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}

/**
 * Runs `fn` in a new span, the root of its trace when nothing is active (a CLI command, a gateway request).
 * Without tracing the global tracer is the API's no-op and this costs next to nothing.
 */
export async function inSpan<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const tracer = installed?.tracer ?? trace.getTracer('layers-onboarding');
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return await fn();
    } catch (err) {
      // The status only, scrubbed: an exception event would carry the stack and the unredacted message.
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: redactSecrets(String((err as Error)?.message ?? err)),
      });
      throw err;
    } finally {
      span.end();
    }
  });
}
