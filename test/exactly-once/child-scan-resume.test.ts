import { MockActivityEnvironment } from '@temporalio/testing';
import { ChildOrgIndex, ORG_PAGE_SIZE, type OrgLike } from '../../activities/child-orgs';
import { LayersClient } from '../../activities/layers';
import { emulatorControl, startEmulator, type RunningEmulator } from '../helpers/emulator';
import { requestsTo } from './helpers';

const LIST_ORGS = 'GET /v1/organizations';

// Issue 11, item 8: a look-up interrupted mid-scan hands its progress to the next attempt through its
// heartbeat; the next attempt (another worker, a cold index) resumes at that cursor and still knows
// what the pages it skips contained.
describe('a child scan resumes from its heartbeat', () => {
  let emulator: RunningEmulator;
  let layers: LayersClient;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, quiet: true, tier: 'unlimited' });
    layers = new LayersClient({ baseUrl: emulator.url, apiKey: emulator.parentKey });
    for (let i = 0; i < 450; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          layers.createOrganization({ name: `Other ${i + j}`, metadata: { externalId: `other-${i + j}` } }),
        ),
      );
    }
    // The newest child: on the first page, which the resumed attempt never reads again.
    await layers.createOrganization({ name: 'Target', metadata: { externalId: 'target-customer' } });
  });
  afterAll(async () => {
    await layers?.close();
    await emulator?.close();
  });

  test('attempt 1 is cut off after its first page; attempt 2 reads only the remaining pages and finds the org from page one', async () => {
    const control = emulatorControl(emulator.url);
    const first = new MockActivityEnvironment({ attempt: 1 });
    let progress: unknown;
    first.on('heartbeat', (details: { cursor?: string } | undefined) => {
      if (details?.cursor && progress === undefined) {
        progress = details;
        first.cancel();
      }
    });
    await expect(first.run(() => new ChildOrgIndex(layers).find('target-customer'))).rejects.toThrow();
    expect(progress).toMatchObject({
      externalId: 'target-customer',
      matches: [expect.objectContaining({ externalId: 'target-customer' })],
    });

    const before = requestsTo(await control.state(), LIST_ORGS);
    const second = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: progress });
    const found = (await second.run(() => new ChildOrgIndex(layers).find('target-customer'))) as OrgLike[];
    expect(found.map((o) => o.metadata?.externalId)).toEqual(['target-customer']);
    const pages = Math.ceil(451 / ORG_PAGE_SIZE);
    expect(requestsTo(await control.state(), LIST_ORGS) - before).toBe(pages - 1);
  });
});
