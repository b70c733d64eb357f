import { readFileSync } from 'node:fs';
import path from 'node:path';
import { countEvents } from '../../bench/histories';
import { timeline, uncovered, windowRate } from '../../bench/stats';
import { evaluateTargets, type TargetInputs } from '../../bench/targets';

describe('bench figures', () => {
  test('the rate leaves out the ramp and the tail', () => {
    // 10 slow completions at the start and at the end, 100 at 10/s in the middle.
    const times = [
      ...Array.from({ length: 10 }, (_, i) => i * 1_000),
      ...Array.from({ length: 100 }, (_, i) => 10_000 + i * 100),
      ...Array.from({ length: 10 }, (_, i) => 20_000 + i * 1_000),
    ];
    const { perSecond } = windowRate(times);
    expect(perSecond).toBeCloseTo(10, 0);
    const wholeRun = (times.length * 1000) / (times[times.length - 1]! - times[0]!);
    expect(wholeRun).toBeLessThan(5);
  });

  test('between steps: sequential gaps add up, overlapping steps cost nothing', () => {
    // start 0, result seen at 100; three steps one after another with 10 ms gaps.
    const sequential = timeline(0, 100, [
      { start: 20, end: 30 },
      { start: 40, end: 50 },
      { start: 60, end: 70 },
    ])!;
    expect(sequential).toEqual({
      beforeFirstMs: 20,
      afterLastMs: 30,
      betweenStepsMs: 20,
      betweenActivitiesMs: 20,
      busyMs: 30,
    });
    // After the first step, three issued together; two overlap, the third starts 5 ms after both ended.
    const fanOut = timeline(0, 100, [
      { start: 10, end: 20 },
      { start: 30, end: 45 },
      { start: 32, end: 40 },
      { start: 50, end: 55 },
    ])!;
    expect(fanOut.betweenStepsMs).toBe(10 + 5);
    expect(fanOut.busyMs).toBe(10 + 15 + 5);
    expect(fanOut.beforeFirstMs + fanOut.busyMs + fanOut.betweenStepsMs + fanOut.afterLastMs).toBe(100);
  });

  test('activity code outside Layers calls is told apart from the time no activity runs', () => {
    const t = timeline(
      0,
      100,
      [
        { start: 20, end: 30 },
        { start: 50, end: 60 },
      ],
      // The second activity began 8 ms before its call (a URL check, say).
      [
        { start: 19, end: 31 },
        { start: 42, end: 61 },
      ],
    )!;
    expect(t.betweenStepsMs).toBe(20);
    expect(t.betweenActivitiesMs).toBe(11);
    expect(uncovered([{ start: 0, end: 5 }], 0, 10)).toBe(5);
  });

  test('history counts from a recorded onboarding', () => {
    const history = JSON.parse(
      readFileSync(path.join(__dirname, '../histories/onboarding-current.json'), 'utf8'),
    ) as { events: Parameters<typeof countEvents>[0] };
    expect(countEvents(history.events)).toEqual({
      executions: 1,
      events: 77,
      workflowTasks: 10,
      workflowTaskFailures: 0,
      activityTasks: 8,
      localActivities: 1,
      patchMarkers: 4,
      searchAttributeUpserts: 14,
      memoUpserts: 0,
      signals: 0,
      updates: 0,
      childWorkflows: 0,
      timers: 0,
    });
  });

  test('targets a run does not exercise say so instead of a verdict', () => {
    const base: TargetInputs = {
      tier: 'unlimited',
      customers: 100,
      concurrency: 1,
      latencyMs: 0,
      failed: 0,
      onboardingsPerSecond: 3,
      latencyP99Ms: 400,
      writeBudgetFraction: null,
      writesPerMinute: 900,
      budgetPerMinute: null,
      rateLimited: 0,
      duplicates: 0,
      betweenStepsPerStepMsP50: 12,
      fixedMsP50: 80,
      serverPlusWorkerCpuMs: 140,
    };
    const verdicts = evaluateTargets(base).map((t) => [t.target.split(':')[0], t.verdict]);
    expect(verdicts).toEqual([
      ['partner tier', 'not measured'],
      ['tier unlimited, 1,000 customers', 'not measured'],
      ['concurrency 1', 'met'],
      ['concurrency 1', 'not met'],
      ['server + worker CPU ≤ 150 ms per onboarding', 'met'],
    ]);
    const partner = evaluateTargets({
      ...base,
      tier: 'partner',
      concurrency: 50,
      writeBudgetFraction: 0.96,
      budgetPerMinute: 3000,
      rateLimited: 1,
    });
    expect(partner[0]!.verdict).toBe('not met');
  });
});
