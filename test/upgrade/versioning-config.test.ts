import { ConfigError } from '../../common/connection';
import { packageVersion } from '../../common/package-version';
import { loadWorkerVersioning } from '../../worker/config';

describe('worker versioning settings (TEMPORAL_WORKER_*)', () => {
  test('on by default: deployment layers-onboarding, the package version as build id, current only if none', () => {
    expect(loadWorkerVersioning({})).toEqual({
      deploymentName: 'layers-onboarding',
      buildId: packageVersion(),
      setCurrent: 'if-none',
    });
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('overrides, and the off switch for a server without worker deployments', () => {
    expect(
      loadWorkerVersioning({
        TEMPORAL_WORKER_DEPLOYMENT_NAME: 'partner-x',
        TEMPORAL_WORKER_BUILD_ID: 'git-3f2a9c1',
        TEMPORAL_WORKER_SET_CURRENT: 'always',
      }),
    ).toEqual({ deploymentName: 'partner-x', buildId: 'git-3f2a9c1', setCurrent: 'always' });
    expect(loadWorkerVersioning({ TEMPORAL_WORKER_VERSIONING: 'off' })).toBeUndefined();
  });

  test.each([
    [{ TEMPORAL_WORKER_VERSIONING: 'yes' }, /^TEMPORAL_WORKER_VERSIONING: must be "on"/],
    [
      { TEMPORAL_WORKER_DEPLOYMENT_NAME: 'layers.onboarding' },
      /^TEMPORAL_WORKER_DEPLOYMENT_NAME: must not contain "\."/,
    ],
    [
      { TEMPORAL_WORKER_DEPLOYMENT_NAME: '__unversioned__' },
      /^TEMPORAL_WORKER_DEPLOYMENT_NAME: must not start with "__"/,
    ],
    [{ TEMPORAL_WORKER_BUILD_ID: '1.0 beta' }, /^TEMPORAL_WORKER_BUILD_ID: must be one word/],
    [{ TEMPORAL_WORKER_SET_CURRENT: 'yes' }, /^TEMPORAL_WORKER_SET_CURRENT: must be "if-none"/],
  ])('%j is refused, naming the variable', (env, message) => {
    expect(() => loadWorkerVersioning(env)).toThrow(ConfigError);
    expect(() => loadWorkerVersioning(env)).toThrow(message);
  });
});
