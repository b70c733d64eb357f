import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { ConfigError } from '../../common/connection';
import { activeTracing, clientTracingInterceptors, inSpan, setUpTracing } from '../../common/tracing';

// One process, set up in order: off, refused, then on over OTLP (setUpTracing installs once per process).

test('without OTEL_EXPORTER_OTLP_ENDPOINT (or with OTEL_SDK_DISABLED) nothing is installed: no interceptors, no traceparent', async () => {
  expect(setUpTracing({ serviceName: 'off', env: {} })).toBeUndefined();
  const disabled = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' };
  expect(setUpTracing({ serviceName: 'off', env: disabled })).toBeUndefined();
  expect(activeTracing()).toBeUndefined();
  expect(clientTracingInterceptors()).toBeUndefined();
  const headers: Record<string, string> = {};
  await inSpan('untraced', async () => propagation.inject(context.active(), headers));
  expect(headers).toEqual({});
});

test('an endpoint that is not an http(s) URL is refused, naming the variable', () => {
  for (const [name, value] of [
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'localhost:4318'],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'not a url'],
  ]) {
    const attempt = () => setUpTracing({ serviceName: 'bad', env: { [name!]: value } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^${name}: must be an http\\(s\\) URL`));
  }
  expect(activeTracing()).toBeUndefined();
});

test('with an endpoint, spans go to <endpoint>/v1/traces under OTEL_SERVICE_NAME and traceparent is sent', async () => {
  const received: Array<{ path: string; body: string }> = [];
  const collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
    const tracing = setUpTracing({
      serviceName: 'default-name',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'onboarding-under-test' },
    })!;
    expect(activeTracing()).toBe(tracing);
    expect(clientTracingInterceptors()?.workflow).toHaveLength(1);
    const headers: Record<string, string> = {};
    let traceId = '';
    await inSpan('onboard probe', async () => {
      traceId = trace.getActiveSpan()!.spanContext().traceId;
      propagation.inject(context.active(), headers);
    });
    expect(headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    await tracing.shutdown(); // flushes the batch
    expect(received.map((r) => r.path)).toEqual(['/v1/traces']);
    expect(received[0]!.body).toContain('onboard probe');
    expect(received[0]!.body).toContain('onboarding-under-test');
    expect(received[0]!.body).not.toContain('default-name');
  } finally {
    collector.closeAllConnections();
    await new Promise((resolve) => collector.close(resolve));
  }
});
