import { ApplicationFailure } from '@temporalio/common';
import { LayersClient, type Organization } from './layers';
import type { SecretSink } from './secret-sink';
import { callOptions, layersCall } from './layers-call';

/** Layers keeps idempotency keys 24 hours; past 23 we stop trusting them and reconcile first. */
export const IDEMPOTENCY_TRUST_MS = 23 * 60 * 60 * 1000;

export interface OnboardingActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
}

export interface KeyedWrite {
  idempotencyKey: string;
  /** When this key was first used (workflow time): older than the window means it may have expired. */
  keyIssuedAt: number;
}

export interface PreflightResult {
  parentOrganizationId: string;
  rateLimitTier: string;
  creditBalance: number;
  blocked: boolean;
}

export interface CreateChildOrgInput extends KeyedWrite {
  workflowId: string;
  externalId: string;
  name: string;
  metadata?: Record<string, string>;
  billingEmail?: string;
  /** Look for an existing child with this externalId before creating (a re-run after a failure). */
  reconcile?: boolean;
}

export interface MintKeyInput extends KeyedWrite {
  orgId: string;
  externalId: string;
  name: string;
  scopes: string[];
}

export interface AllocateInput extends KeyedWrite {
  orgId: string;
  workflowId: string;
  externalId: string;
  credits: number;
}

export interface AllocateResult {
  transferId: string;
  allocated: number;
  balance: number;
  available: number;
  replayed: boolean;
  reconciled: boolean;
}

export interface CreditConfigPatch {
  monthlyCreditCap?: number | null;
  refillThreshold?: number | null;
  refillAmount?: number | null;
}

export interface VerifyInput {
  orgId: string;
  expected: {
    name: string;
    externalId: string;
    transferId: string;
    credits: number;
    creditConfig?: CreditConfigPatch;
    projectId?: string;
    apiKeyId: string;
    scopes: string[];
  };
}


function keyIsUntrusted(write: KeyedWrite): boolean {
  return Date.now() - write.keyIssuedAt > IDEMPOTENCY_TRUST_MS;
}


export function createOnboardingActivities({ layers, secretSink }: OnboardingActivityDeps) {
  async function findChildByExternalId(externalId: string, workflowId: string): Promise<Organization | undefined> {
    const matches: Organization[] = [];
    for await (const org of layers.listAllOrganizations({}, callOptions())) {
      if (org.status !== 'archived' && org.metadata?.externalId === externalId) matches.push(org);
    }
    return matches.find((org) => org.metadata?.onboardingWorkflowId === workflowId) ?? matches[matches.length - 1];
  }

  return {
    async preflight(): Promise<PreflightResult> {
      return layersCall(async () => {
        const me = await layers.whoami(callOptions());
        if (!me.scopes.includes('org:admin')) {
          throw ApplicationFailure.create({
            type: 'LayersMissingAdminScope',
            nonRetryable: true,
            message:
              'The parent key lacks the org:admin scope, which creating child organizations needs. ' +
              'Ask your Layers contact for an org:admin key and set it as LAYERS_PARENT_KEY.',
          });
        }
        return {
          parentOrganizationId: me.organizationId,
          rateLimitTier: me.rateLimitTier,
          creditBalance: me.creditBalance,
          blocked: Boolean(me.killSwitch || me.apiAccessRevoked),
        };
      });
    },

    async createChildOrganization(input: CreateChildOrgInput): Promise<{ orgId: string; reconciled: boolean }> {
      return layersCall(async () => {
        if (input.reconcile || keyIsUntrusted(input)) {
          const existing = await findChildByExternalId(input.externalId, input.workflowId);
          if (existing) return { orgId: existing.id, reconciled: true };
        }
        const org = await layers.createOrganization(
          {
            name: input.name,
            metadata: { ...input.metadata, externalId: input.externalId, onboardingWorkflowId: input.workflowId },
            ...(input.billingEmail ? { billingEmail: input.billingEmail } : {}),
          },
          callOptions({ idempotencyKey: input.idempotencyKey }),
        );
        return { orgId: org.id, reconciled: false };
      });
    },

    /** The secret goes to the sink inside this activity and never leaves it. */
    async mintChildApiKey(input: MintKeyInput): Promise<{ id: string; prefix: string; scopes: string[]; secretRef: string }> {
      return layersCall(async () => {
        let minted;
        if (keyIsUntrusted(input)) {
          // The mint's replay may be gone: reuse the key we made by rotating it, so a fresh secret reaches the sink.
          const page = await layers.listApiKeys(input.orgId, { limit: 100 }, callOptions());
          const ours = page.items.find((k) => k.name === input.name && k.status === 'active');
          if (ours) minted = await layers.rotateApiKey(input.orgId, ours.id, callOptions({ idempotencyKey: input.idempotencyKey }));
        }
        minted ??= await layers.createApiKey(
          input.orgId,
          { name: input.name, scopes: input.scopes },
          callOptions({ idempotencyKey: input.idempotencyKey }),
        );
        const secretRef = await secretSink.store({
          kind: 'api-key',
          id: minted.apiKey.id,
          secret: minted.secret,
          organizationId: input.orgId,
          externalId: input.externalId,
          prefix: minted.apiKey.prefix,
        });
        return { id: minted.apiKey.id, prefix: minted.apiKey.prefix, scopes: minted.apiKey.scopes, secretRef };
      });
    },

    async allocateCredits(input: AllocateInput): Promise<AllocateResult> {
      return layersCall(async () => {
        if (keyIsUntrusted(input)) {
          const page = await layers.listCreditEvents(input.orgId, { eventType: 'allocation', limit: 100 }, callOptions());
          const ours = page.items.find((e) => e.metadata?.onboardingWorkflowId === input.workflowId && e.credits > 0);
          if (ours) {
            const wallet = await layers.getCredits(input.orgId, callOptions());
            return {
              transferId: String(ours.metadata?.transferId),
              allocated: ours.credits,
              balance: wallet.balance,
              available: wallet.available,
              replayed: false,
              reconciled: true,
            };
          }
        }
        const txn = await layers.allocateCredits(
          input.orgId,
          {
            credits: input.credits,
            description: `Onboarding allocation for ${input.externalId}`,
            metadata: { externalId: input.externalId, onboardingWorkflowId: input.workflowId },
          },
          callOptions({ idempotencyKey: input.idempotencyKey }),
        );
        return {
          transferId: txn.id,
          allocated: txn.allocated,
          balance: txn.balance,
          available: txn.available,
          replayed: Boolean(txn.replayed),
          reconciled: false,
        };
      });
    },

    async configureCredits(input: { orgId: string; patch: CreditConfigPatch; idempotencyKey: string }) {
      return layersCall(async () => {
        const res = await layers.updateCreditConfig(input.orgId, input.patch, callOptions({ idempotencyKey: input.idempotencyKey }));
        return res.config;
      });
    },

    /**
     * Legacy (histories from before the `partner-firehose` patch only): an existing parent endpoint at the
     * URL is reported, but no new `all_children` endpoint is created for a customer URL any more — it
     * would receive every customer's events (issue 14). New onboardings use activities/firehose.ts.
     */
    async ensureFirehose(input: { url: string; events: string[]; idempotencyKey: string }) {
      return layersCall(async () => {
        for await (const endpoint of layers.listAllWebhookEndpoints(callOptions())) {
          if (endpoint.url === input.url && endpoint.scope === 'all_children') {
            return { endpointId: endpoint.id, created: false, secretRef: undefined as string | undefined };
          }
        }
        throw ApplicationFailure.create({
          type: 'WebhookUrlRefused',
          nonRetryable: true,
          message:
            'firehose.url: a customer URL is no longer registered as a parent endpoint with scope all_children (it would receive ' +
            'every customer\'s events); start the customer again to get a child-scoped endpoint, or set LAYERS_FIREHOSE_URL for the partner firehose',
        });
      });
    },

    async createProject(input: { orgId: string; name: string; timezone: string; externalId: string; idempotencyKey: string }) {
      return layersCall(async () => {
        const project = await layers.createProject(
          { name: input.name, timezone: input.timezone, customerExternalId: input.externalId },
          callOptions({ idempotencyKey: input.idempotencyKey, organizationId: input.orgId }),
        );
        return { projectId: project.id };
      });
    },

    /** Read back what onboarding wrote; any difference is a readable, non-retryable diff. */
    async verifyOnboarding({ orgId, expected }: VerifyInput) {
      return layersCall(async () => {
        const org = await layers.getOrganization(orgId, callOptions());
        const config = await layers.getCreditConfig(orgId, callOptions());
        const keys = await layers.listApiKeys(orgId, { limit: 100 }, callOptions());
        const diffs: string[] = [];
        const expect = (field: string, want: unknown, got: unknown) => {
          if (JSON.stringify(want) !== JSON.stringify(got)) diffs.push(`${field}: expected ${JSON.stringify(want)}, found ${JSON.stringify(got)}`);
        };
        expect('name', expected.name, org.name);
        expect('metadata.externalId', expected.externalId, org.metadata?.externalId);
        if (org.status === 'archived') diffs.push('status: expected active or suspended, found archived');
        const key = keys.items.find((k) => k.id === expected.apiKeyId);
        if (!key) diffs.push(`apiKey: ${expected.apiKeyId} not found on the child`);
        else {
          expect('apiKey.status', 'active', key.status);
          expect('apiKey.scopes', [...expected.scopes].sort(), [...key.scopes].sort());
        }
        if (expected.creditConfig) {
          for (const field of ['monthlyCreditCap', 'refillThreshold', 'refillAmount'] as const) {
            if (expected.creditConfig[field] !== undefined) expect(`creditConfig.${field}`, expected.creditConfig[field], config.config[field]);
          }
          if (expected.creditConfig.refillAmount !== undefined) expect('creditConfig.autoRefillEnabled', true, config.config.autoRefillEnabled);
        }
        expect('summary.creditConfig', config.config, org.summary.creditConfig);
        if (org.summary.balance < 0) diffs.push(`summary.balance: negative (${org.summary.balance})`);
        if (expected.projectId && org.summary.projectCount < 1) diffs.push('summary.projectCount: expected at least 1, found 0');
        if (diffs.length) {
          throw ApplicationFailure.create({
            type: 'OnboardingVerificationFailed',
            nonRetryable: true,
            message: `Verification of ${orgId} found ${diffs.length} difference(s):\n  - ${diffs.join('\n  - ')}`,
            details: [{ orgId, diffs }],
          });
        }
        return {
          status: org.status,
          balance: org.summary.balance,
          available: org.summary.available,
          creditConfig: config.config,
        };
      });
    },
  };
}
