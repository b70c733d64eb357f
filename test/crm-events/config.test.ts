import { loadLayersConfig } from '../../worker/config';

// The worker reads the CRM events settings under the gateway's names, with the gateway's default secret.

const base = { LAYERS_PARENT_KEY: 'lp_test_config_check' };

describe('worker config: CRM_EVENTS_URL and its signing secret', () => {
  test('unset: no CRM events (the workflow schedules none)', () => {
    expect(loadLayersConfig(base).crmEvents).toBeUndefined();
  });

  test('CRM_EVENTS_SIGNING_SECRET signs; without it the first GATEWAY_SIGNING_SECRETS entry does', () => {
    expect(
      loadLayersConfig({
        ...base,
        CRM_EVENTS_URL: 'https://crm.example.com/events',
        CRM_EVENTS_SIGNING_SECRET: 'own-secret',
      }).crmEvents,
    ).toEqual({ url: 'https://crm.example.com/events', signingSecret: 'own-secret' });
    expect(
      loadLayersConfig({
        ...base,
        CRM_EVENTS_URL: 'https://crm.example.com/events',
        GATEWAY_SIGNING_SECRETS: 'first-secret, second-secret',
      }).crmEvents,
    ).toEqual({ url: 'https://crm.example.com/events', signingSecret: 'first-secret' });
  });

  test('bad settings name the variable', () => {
    expect(() => loadLayersConfig({ ...base, CRM_EVENTS_URL: 'https://crm.example.com/events' })).toThrow(
      /^CRM_EVENTS_SIGNING_SECRET: /,
    );
    expect(() =>
      loadLayersConfig({ ...base, CRM_EVENTS_URL: 'crm.example.com', CRM_EVENTS_SIGNING_SECRET: 's' }),
    ).toThrow(/^CRM_EVENTS_URL: /);
    expect(() =>
      loadLayersConfig({
        ...base,
        CRM_EVENTS_URL: 'https://user:pw@crm.example.com/events',
        CRM_EVENTS_SIGNING_SECRET: 's',
      }),
    ).toThrow(/^CRM_EVENTS_URL: must not carry credentials/);
  });
});
