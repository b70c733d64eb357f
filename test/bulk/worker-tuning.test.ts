import { ConfigError } from '../../common/connection';
import { DEFAULT_MAX_CACHED_WORKFLOWS, loadWorkerTuning } from '../../worker/config';
import { DEFAULT_SHUTDOWN_GRACE_TIME_MS, shutdownGraceTimeFromEnv } from '../../worker/worker';

describe('worker tuning from the environment (defaults chosen in bench/RESULTS.md)', () => {
  test('unset: a bounded workflow cache, the SDK defaults for the slots', () => {
    expect(loadWorkerTuning({})).toEqual({ maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS });
    expect(DEFAULT_MAX_CACHED_WORKFLOWS).toBe(500);
  });

  test('each variable overrides its setting; 0 turns the cache off', () => {
    expect(
      loadWorkerTuning({
        WORKER_MAX_CACHED_WORKFLOWS: '0',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '50',
      }),
    ).toEqual({
      maxCachedWorkflows: 0,
      maxConcurrentWorkflowTaskExecutions: 20,
      maxConcurrentActivityTaskExecutions: 50,
    });
  });

  test.each([
    [{ WORKER_MAX_CACHED_WORKFLOWS: 'lots' }, /^WORKER_MAX_CACHED_WORKFLOWS: /],
    [{ WORKER_MAX_CACHED_WORKFLOWS: '-1' }, /^WORKER_MAX_CACHED_WORKFLOWS: /],
    [
      { WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '0' },
      /^WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: must be at least 1/,
    ],
    [
      { WORKER_MAX_CONCURRENT_ACTIVITIES: '2.5' },
      /^WORKER_MAX_CONCURRENT_ACTIVITIES: must be a whole number/,
    ],
  ])('%j is refused with one line naming the variable', (env, message) => {
    expect(() => loadWorkerTuning(env)).toThrow(ConfigError);
    expect(() => loadWorkerTuning(env)).toThrow(message);
  });
});

describe('WORKER_SHUTDOWN_GRACE_TIME: how long running activities may finish after SIGTERM', () => {
  test('unset: 30 s; durations in ms, s or m; a bare number is seconds', () => {
    expect(shutdownGraceTimeFromEnv({})).toBe(DEFAULT_SHUTDOWN_GRACE_TIME_MS);
    expect(DEFAULT_SHUTDOWN_GRACE_TIME_MS).toBe(30_000);
    expect(shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: '45s' })).toBe(45_000);
    expect(shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: '500ms' })).toBe(500);
    expect(shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: '2m' })).toBe(120_000);
    expect(shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: '10' })).toBe(10_000);
    expect(shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: '0' })).toBe(0);
  });

  test.each(['soon', '-5s', '1h', '5 minutes'])(
    '%j is refused with one line naming the variable',
    (value) => {
      expect(() => shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: value })).toThrow(ConfigError);
      expect(() => shutdownGraceTimeFromEnv({ WORKER_SHUTDOWN_GRACE_TIME: value })).toThrow(
        /^WORKER_SHUTDOWN_GRACE_TIME: must be a duration like 30s, 500ms or 2m$/,
      );
    },
  );
});
