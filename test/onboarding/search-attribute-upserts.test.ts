import { customerWorkflowId, onboardingWorkflowId } from '../../common/ids';
import { acmeCoffee, startOnboardingTestEnv, type OnboardingTestEnv } from '../helpers/onboarding-env';

// Issue 15: every upsert is a command and a visibility write, so none may leave the attributes as they were.
describe('search-attribute upserts', () => {
  let env: OnboardingTestEnv;
  beforeAll(async () => {
    env = await startOnboardingTestEnv();
  });
  afterAll(async () => env?.close());

  test('an onboarding and its customer upsert only attributes that change', async () => {
    const request = acmeCoffee();
    const externalId = request.customer.externalId;
    await env.run(async () => {
      await env.crm.start(request);
      await env.crm.result(externalId);
    });
    for (const workflowId of [onboardingWorkflowId(externalId), customerWorkflowId(externalId)]) {
      const history = await env.temporal.client.workflow.getHandle(workflowId).fetchHistory();
      const attributes = new Map<string, string>();
      const decode = (payload: { data?: Uint8Array | null } | null | undefined) =>
        payload?.data?.length ? Buffer.from(payload.data).toString('utf8') : 'null';
      const start = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      for (const [key, payload] of Object.entries(start?.searchAttributes?.indexedFields ?? {}))
        attributes.set(key, decode(payload));
      const upserts = (history.events ?? []).filter((e) => e.upsertWorkflowSearchAttributesEventAttributes);
      expect(upserts.length).toBeGreaterThan(0);
      for (const event of upserts) {
        const fields = Object.entries(
          event.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes?.indexedFields ?? {},
        );
        const changes = fields.filter(([key, payload]) => attributes.get(key) !== decode(payload));
        expect({
          workflowId,
          eventId: String(event.eventId),
          unchanged: fields.length - changes.length,
        }).toEqual({
          workflowId,
          eventId: String(event.eventId),
          unchanged: 0,
        });
        for (const [key, payload] of fields) attributes.set(key, decode(payload));
      }
    }
  });
});
