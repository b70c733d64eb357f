import { startEmulator } from '../../emulator';

export type RunningEmulator = Awaited<ReturnType<typeof startEmulator>>;

/* eslint-disable @typescript-eslint/no-explicit-any */
export type EmulatorState = {
  parentOrganizationId: string;
  organizations: any[];
  wallets: Array<{ organizationId: string; balance: number; reserved: number; available: number }>;
  ledger: any[];
  transfers: Array<{
    id: string;
    fromOrganizationId: string;
    toOrganizationId: string;
    credits: number;
    trigger: string;
  }>;
  apiKeys: any[];
  creditConfigs: any[];
  projects: any[];
  webhookEndpoints: any[];
  webhookDeliveries: any[];
  requests: { total: number; byRoute: Record<string, Record<string, number>> };
};
/* eslint-enable @typescript-eslint/no-explicit-any */

async function control(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${url}/_emulator${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export const emulatorControl = (url: string) => ({
  state: () => control(url, 'GET', '/state') as Promise<EmulatorState>,
  reset: () => control(url, 'POST', '/reset'),
  faults: (plan: { seed: number | string; rules: object[] }) => control(url, 'POST', '/faults', plan),
  clearFaults: () => control(url, 'DELETE', '/faults'),
  topUp: (credits: number) => control(url, 'POST', '/parent/credits', { credits }),
  killSwitch: (on: boolean) => control(url, 'POST', '/kill-switch', { on }),
  advanceClock: (advanceMs: number) => control(url, 'POST', '/clock', { advanceMs }),
  usage: (orgId: string, action: 'reserve' | 'settle' | 'release', credits: number) =>
    control(url, 'POST', `/organizations/${orgId}/usage`, { action, credits }),
  mintKey: (body: { scopes: string[] }) =>
    control(url, 'POST', '/keys', body) as Promise<{ id: string; secret: string }>,
  rateLimits: (body: { tier: string; limits?: { read: number; write: number; longRunning: number } }) =>
    control(url, 'POST', '/rate-limits', body),
});

export function parentWallet(state: EmulatorState) {
  return state.wallets.find((w) => w.organizationId === state.parentOrganizationId)!;
}

export function childrenOf(state: EmulatorState) {
  return state.organizations.filter((o) => o.parentOrganizationId === state.parentOrganizationId);
}

/** Parent plus children plus what was spent must equal what the partner ever bought. */
export function totalCredits(state: EmulatorState): number {
  return state.wallets.reduce((sum, w) => sum + w.balance, 0);
}

export { startEmulator };
