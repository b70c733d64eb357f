// Not a workflow: the OpenTelemetry workflow interceptors, bundled as a workflow interceptor module only by a
// worker that traces (common/tracing.ts). Spans of workflow runs, activity and child-workflow starts, signals
// and updates; the trace context rides in Temporal headers, and finished spans leave the sandbox through the
// `exporter` sink. They add no commands: a traced worker replays the same histories (test/tracing).
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
