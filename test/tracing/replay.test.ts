import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { setUpTracing, workerTracing } from '../../common/tracing';
import { tracingWorkflowBundle } from '../helpers/tracing';

// The tracing interceptors add no commands and change no order: a worker that starts tracing replays every
// history recorded without it (test/replay does the same for the untraced bundle).
const DIR = path.resolve(__dirname, '../histories');

test('every recorded history replays on a traced worker, and replay exports no spans', async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = setUpTracing({ serviceName: 'tracing-replay-test', exporter })!;
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  const histories = files.map((file) => ({
    // Recorded under this id (workflows check their input against it): see test/replay/replay.test.ts.
    workflowId: existsSync(path.join(DIR, file.replace(/\.json$/, '.workflow-id')))
      ? readFileSync(path.join(DIR, file.replace(/\.json$/, '.workflow-id')), 'utf8').trim()
      : file,
    history: historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8'))),
  }));
  const bundle = await tracingWorkflowBundle();
  expect(readFileSync(bundle.codePath, 'utf8')).toContain('OpenTelemetryInboundInterceptor');
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: bundle, sinks: workerTracing(tracing).sinks },
    histories,
  )) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${(result.error as Error).message}`);
  }
  expect({ replayed, failures }).toEqual({ replayed: files.length, failures: [] });
  await tracing.forceFlush();
  expect(exporter.getFinishedSpans()).toEqual([]);
  await tracing.shutdown();
});
