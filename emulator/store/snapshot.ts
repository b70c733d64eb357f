/** GET /_emulator/state: the whole state as JSON. Never a key secret, a secret hash or a signing secret. */
import { iso } from '../ids';
import type { Json } from '../validate';
import { keyJson } from './api-keys';
import { configJson } from './credit-config';
import { available, conservation, ledgerJson, transferJson, wallet } from './credits';
import type { Store } from './index';
import { orgJson } from './organizations';
import { projectJson } from './projects';
import { deliveryJson, endpointStateJson } from './webhooks';

export function snapshot(s: Store, parentOrganizationId: string, killSwitch: boolean): Record<string, Json> {
  const orgs = [...s.orgs.values()];
  return {
    now: iso(s.now()),
    nowMs: s.now(),
    parentOrganizationId,
    killSwitch,
    organizations: orgs.map((o) => ({
      ...orgJson(o),
      killSwitch: o.killSwitch,
      apiAccessRevoked: o.apiAccessRevoked,
    })),
    wallets: orgs.map((o) => {
      const w = wallet(s, o.id);
      return {
        organizationId: o.id,
        balance: w.balance,
        reserved: w.reserved,
        available: available(w),
        usedThisMonth: w.usedThisMonth,
        billingPeriod: w.usagePeriod,
      };
    }),
    ledger: s.ledger.map(ledgerJson),
    transfers: s.transfers.map(transferJson),
    apiKeys: [...s.keys.values()].map((k) => ({ ...keyJson(s, k), suspended: k.suspended })),
    creditConfigs: orgs
      .filter((o) => o.parentOrganizationId !== null)
      .map((o) => ({ organizationId: o.id, ...configJson(s, o.id), configured: s.configs.has(o.id) })),
    projects: [...s.projects.values()].map(projectJson),
    webhookEndpoints: [...s.endpoints.values()].map(endpointStateJson),
    webhookDeliveries: [...s.deliveries.values()].map(deliveryJson),
    idempotencyKeys: s.idempotency.size,
    totals: conservation(s),
    requests: { total: s.requests.total, byRoute: structuredClone(s.requests.byRoute) },
    log: s.log.slice(-200) as unknown as Json,
  };
}
