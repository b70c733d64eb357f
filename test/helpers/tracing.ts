import { existsSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TRACING_WORKFLOW_INTERCEPTORS } from '../../common/tracing';

/**
 * The run's workflow bundle plus the tracing interceptor module, built on first use and kept in the run's
 * temp dir: the shared bundle (global-setup) stays untraced, as a worker without OTEL settings runs.
 */
export async function tracingWorkflowBundle(): Promise<{ codePath: string }> {
  const dir = process.env.TEST_TMP_DIR;
  if (!dir) throw new Error('TEST_TMP_DIR is not set: run the tests through jest (global setup)');
  const codePath = path.join(dir, 'workflow-bundle-tracing.js');
  if (!existsSync(codePath)) {
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      workflowInterceptorModules: [TRACING_WORKFLOW_INTERCEPTORS],
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
    });
    // Written whole, then renamed: a suite running in parallel never reads half a bundle.
    const partial = `${codePath}.${process.pid}.tmp`;
    writeFileSync(partial, bundle.code);
    renameSync(partial, codePath);
  }
  return { codePath };
}

export interface ForwardedRequest {
  method: string;
  path: string;
  traceparent?: string;
}

/**
 * A pass-through HTTP proxy in front of the emulator that records each request's `traceparent` (the
 * emulator keeps no headers): what Layers would see of the trace.
 */
export async function startTraceparentProxy(
  target: string,
): Promise<{ url: string; requests: ForwardedRequest[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const requests: ForwardedRequest[] = [];
  const server = http.createServer((req, res) => {
    const traceparent = req.headers.traceparent;
    requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
    });
    const forwarded = http.request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
