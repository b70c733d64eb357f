import { ConfigError } from '../../common/connection';
import { DEFAULT_MAX_CACHED_WORKFLOWS, loadWorkerTuning } from '../../worker/config';

describe('worker tuning from the environment (defaults chosen in bench/RESULTS.md)', () => {
  test('unset: a bounded workflow cache, the SDK defaults for the slots', () => {
    expect(loadWorkerTuning({})).toEqual({ maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS });
    expect(DEFAULT_MAX_CACHED_WORKFLOWS).toBe(500);
  });

  test('each variable overrides its setting; 0 turns the cache off', () => {
    expect(
      loadWorkerTuning({ WORKER_MAX_CACHED_WORKFLOWS: '0', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20', WORKER_MAX_CONCURRENT_ACTIVITIES: '50' }),
    ).toEqual({ maxCachedWorkflows: 0, maxConcurrentWorkflowTaskExecutions: 20, maxConcurrentActivityTaskExecutions: 50 });
  });

  test.each([
    [{ WORKER_MAX_CACHED_WORKFLOWS: 'lots' }, /^WORKER_MAX_CACHED_WORKFLOWS: /],
    [{ WORKER_MAX_CACHED_WORKFLOWS: '-1' }, /^WORKER_MAX_CACHED_WORKFLOWS: /],
    [{ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '0' }, /^WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: must be at least 1/],
    [{ WORKER_MAX_CONCURRENT_ACTIVITIES: '2.5' }, /^WORKER_MAX_CONCURRENT_ACTIVITIES: must be a whole number/],
  ])('%j is refused with one line naming the variable', (env, message) => {
    expect(() => loadWorkerTuning(env)).toThrow(ConfigError);
    expect(() => loadWorkerTuning(env)).toThrow(message);
  });
});
