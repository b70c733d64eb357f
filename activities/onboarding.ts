import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LayersApiError, LayersClient, type ApiKey, type MintedApiKey } from './layers';
import type { SecretSink } from './secret-sink';
import { callOptions, layersCall } from './layers-call';
import { ChildOrgIndex, type OrgLike } from './child-orgs';
import { checkWebhookUrl, type WebhookUrlPolicy } from '../common/webhook-url';
import { onboardingInputProblems } from '../common/workflow-boundary';
import { parseOnboardingInput, type OnboardingInput, type ParseResult } from '../common/onboarding-input';
import { idempotencyKey, uuidV5 } from '../workflows/idempotency';

/** Layers keeps idempotency keys 24 hours; past 23 we stop trusting them and reconcile first. */
export const IDEMPOTENCY_TRUST_MS = 23 * 60 * 60 * 1000;

/** The largest page `GET …/credits/events` serves (the default is 25). */
export const CREDIT_EVENT_PAGE_SIZE = 100;
/** The largest page `GET …/api-keys` serves. */
export const API_KEY_PAGE_SIZE = 100;
/** Attempts of the mint activity whose secret the sink refused, before the key is revoked and the step fails. */
export const SECRET_SINK_ATTEMPTS = 10;
/** Org metadata key pointing at the onboarding's project (Layers has no project list to look it up in). */
export const PROJECT_METADATA_KEY = 'onboardingProjectId';

export interface OnboardingActivityDeps {
  layers: LayersClient;
  secretSink: SecretSink;
  /** Shared by every activity of one worker; tests may pass their own to count what it reads. */
  childIndex?: ChildOrgIndex;
  /** The worker's webhook URL policy (local mode with the emulator): the customer's firehose URL is checked at the start. */
  webhookUrlPolicy?: WebhookUrlPolicy;
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
  /** The onboarding workflow id: keys for a rotation or a re-mint are derived from it (absent in old histories). */
  workflowId?: string;
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

/** A key that still works and has not been rotated away (a rotated key stays `active` through its grace period). */
function isLive(key: ApiKey): boolean {
  return key.status === 'active' && !key.supersededBy && !key.revokedAt;
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    /* not in an activity */
  }
}

/** What an earlier attempt of this same activity left in its heartbeat (the id of a key it minted). */
function previousAttempt<T>(): T | undefined {
  try {
    return Context.current().info.heartbeatDetails as T | undefined;
  } catch {
    return undefined;
  }
}

/** When the first attempt of this activity was scheduled (now, outside an activity). */
function activityScheduledAt(): number {
  try {
    return Context.current().info.scheduledTimestampMs;
  } catch {
    return Date.now();
  }
}

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

export function createOnboardingActivities({
  layers,
  secretSink,
  childIndex,
  webhookUrlPolicy,
}: OnboardingActivityDeps) {
  const children = childIndex ?? new ChildOrgIndex(layers);

  async function findChildByExternalId(externalId: string, workflowId: string): Promise<OrgLike | undefined> {
    const matches = (await children.find(externalId)).filter((org) => org.status !== 'archived');
    // Newest first: prefer the one this onboarding made, else the oldest (the first onboarding of this customer).
    return (
      matches.find((org) => org.metadata?.onboardingWorkflowId === workflowId) ?? matches[matches.length - 1]
    );
  }

  async function listKeys(orgId: string): Promise<ApiKey[]> {
    const keys: ApiKey[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await layers.listApiKeys(orgId, { limit: API_KEY_PAGE_SIZE, cursor }, callOptions());
      keys.push(...page.items);
      if (page.nextCursor === null) return keys;
      cursor = page.nextCursor;
    }
  }

  async function recordProjectPointer(orgId: string, projectId: string): Promise<void> {
    try {
      await layers.updateOrganizationMetadata(orgId, { [PROJECT_METADATA_KEY]: projectId }, callOptions());
    } catch (err) {
      // 422: the customer's own metadata leaves no room (Layers allows 50 keys); the pointer is an aid, not a must.
      if (!(err instanceof LayersApiError && err.status === 422)) throw err;
    }
  }

  /** This onboarding's allocation on the child's ledger (pages of 100, newest first, heartbeating). */
  async function findAllocation(orgId: string, workflowId: string) {
    let cursor: string | undefined;
    for (;;) {
      const page = await layers.listCreditEvents(
        orgId,
        { eventType: 'allocation', limit: CREDIT_EVENT_PAGE_SIZE, cursor },
        callOptions(),
      );
      const ours = page.items.find((e) => e.metadata?.onboardingWorkflowId === workflowId && e.credits > 0);
      if (ours) return ours;
      if (page.nextCursor === null) return undefined;
      cursor = page.nextCursor;
      heartbeat();
    }
  }

  return {
    /**
     * Runs as a local activity at the start of an onboarding, so that its answer is recorded in history
     * and a replay never re-decides it with another zod or Node (see workflows/onboarding.ts).
     */
    async validateOnboardingInput(
      request: unknown,
      boundary?: { workflowId: string },
    ): Promise<ParseResult<OnboardingInput>> {
      const parsed = parseOnboardingInput(request);
      // Runs that pass `boundary` are the trust boundary: the same rules as the client's early check.
      if (!boundary) return parsed;
      const errors = [
        ...(parsed.ok ? [] : parsed.errors),
        ...onboardingInputProblems(request, boundary.workflowId),
      ];
      if (parsed.ok && parsed.value.firehose) {
        const urlError = checkWebhookUrl(parsed.value.firehose.url, 'firehose.url', webhookUrlPolicy);
        if (urlError) errors.push(urlError);
      }
      return errors.length ? { ok: false, errors } : parsed;
    },

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

    async createChildOrganization(
      input: CreateChildOrgInput,
    ): Promise<{ orgId: string; reconciled: boolean }> {
      return layersCall(async () => {
        // An earlier attempt of this activity that sent the create (its response lost): repeat it with the
        // same key, which Layers replays, so the org counts as made by this run and not by an earlier one.
        const earlier = previousAttempt<{ creating?: boolean }>();
        const sentHereRecently =
          earlier?.creating === true && Date.now() - activityScheduledAt() < IDEMPOTENCY_TRUST_MS;
        if ((input.reconcile || keyIsUntrusted(input)) && !sentHereRecently) {
          const existing = await findChildByExternalId(input.externalId, input.workflowId);
          if (existing) return { orgId: existing.id, reconciled: true };
        }
        heartbeat({ creating: true });
        const org = await layers.createOrganization(
          {
            name: input.name,
            metadata: {
              ...input.metadata,
              externalId: input.externalId,
              onboardingWorkflowId: input.workflowId,
            },
            ...(input.billingEmail ? { billingEmail: input.billingEmail } : {}),
          },
          callOptions({ idempotencyKey: input.idempotencyKey }),
        );
        return { orgId: org.id, reconciled: false };
      });
    },

    /**
     * The secret goes to the sink inside this activity and never leaves it. Layers is the last word on
     * which key is ours (by name; superseded, revoked and expired keys do not count):
     * - a key younger than the idempotency window is (re)sent with the onboarding's key, so a lost
     *   response replays the same secret; a replay of a key that has since been revoked (its secret never
     *   reached the sink) is followed by a fresh mint under a key derived from the dead key's id;
     * - past the window, a live key of ours that an earlier attempt of this activity minted (its id is in
     *   the heartbeat) may never have reached the sink: it is rotated, under a key derived from its id;
     *   a live key no attempt of this activity minted was stored by the activity that minted it (a mint
     *   completes only after the sink has the secret) and is adopted as it is;
     * - when the sink refuses the secret SECRET_SINK_ATTEMPTS times, the key is revoked and the step fails
     *   non-retryably: no live key exists whose secret nobody has, and the next run mints afresh.
     */
    async mintChildApiKey(
      input: MintKeyInput,
    ): Promise<{ id: string; prefix: string; scopes: string[]; secretRef: string; adopted?: boolean }> {
      return layersCall(async () => {
        const workflowId = input.workflowId ?? input.externalId;
        const ours = (await listKeys(input.orgId)).filter((k) => k.name === input.name);
        const dead = new Set(ours.filter((k) => !isLive(k)).map((k) => k.id));
        const live = ours.filter(isLive);
        // What earlier attempts of this activity did, from their heartbeats: a call whose response was lost
        // must be repeated with the same key (Layers replays it, secret included), never answered by adoption.
        const earlier =
          previousAttempt<{ minting?: boolean; rotating?: string; mintedKeyId?: string }>() ?? {};
        const sentHereRecently =
          earlier.minting === true && Date.now() - activityScheduledAt() < IDEMPOTENCY_TRUST_MS;
        const rotateKey = (keyId: string) =>
          uuidV5(`${idempotencyKey(workflowId, 'mint-key')}|rotate|${keyId}`);
        // Every heartbeat carries all this attempt did so far (a later one replaces the earlier details).
        const progress: { minting?: boolean; rotating?: string; mintedKeyId?: string } = {};
        const create = async () => {
          heartbeat(Object.assign(progress, { minting: true }));
          return layers.createApiKey(
            input.orgId,
            { name: input.name, scopes: input.scopes },
            callOptions({ idempotencyKey: input.idempotencyKey }),
          );
        };
        const rotate = async (keyId: string) => {
          heartbeat(Object.assign(progress, { rotating: keyId }));
          return layers.rotateApiKey(input.orgId, keyId, callOptions({ idempotencyKey: rotateKey(keyId) }));
        };

        let minted: MintedApiKey;
        if (earlier.rotating) minted = await rotate(earlier.rotating);
        else if (!keyIsUntrusted(input) || sentHereRecently) minted = await create();
        else {
          const adoptable = live.find((k) => k.id !== earlier.mintedKeyId);
          if (adoptable) {
            return {
              id: adoptable.id,
              prefix: adoptable.prefix,
              scopes: adoptable.scopes,
              secretRef: 'stored-when-minted',
              adopted: true,
            };
          }
          const unstored = live.find((k) => k.id === earlier.mintedKeyId);
          minted = unstored ? await rotate(unstored.id) : await create();
        }
        // A replayed mint (or rotation) of a key that was revoked since: mint again, once per dead key.
        while (dead.has(minted.apiKey.id)) {
          minted = await layers.createApiKey(
            input.orgId,
            { name: input.name, scopes: input.scopes },
            callOptions({
              idempotencyKey: uuidV5(`${idempotencyKey(workflowId, 'mint-key')}|reissue|${minted.apiKey.id}`),
            }),
          );
        }
        heartbeat(Object.assign(progress, { mintedKeyId: minted.apiKey.id }));
        let secretRef: string;
        try {
          secretRef = await secretSink.store({
            kind: 'api-key',
            id: minted.apiKey.id,
            secret: minted.secret,
            organizationId: input.orgId,
            externalId: input.externalId,
            prefix: minted.apiKey.prefix,
          });
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          if (attempt() < SECRET_SINK_ATTEMPTS) {
            throw ApplicationFailure.create({
              type: 'SecretSinkUnavailable',
              message: `The secret sink did not store the new key's secret: ${why}`,
            });
          }
          // Nobody will ever see this secret: make sure no live key depends on it.
          await layers.revokeApiKey(
            input.orgId,
            minted.apiKey.id,
            callOptions({
              idempotencyKey: uuidV5(`${idempotencyKey(workflowId, 'mint-key')}|revoke|${minted.apiKey.id}`),
            }),
          );
          throw ApplicationFailure.create({
            type: 'SecretSinkFailed',
            nonRetryable: true,
            message:
              `The secret sink refused the new key's secret ${SECRET_SINK_ATTEMPTS} times (${why}); ` +
              `key ${minted.apiKey.id} was revoked so that no key lives whose secret nobody has. Fix the sink and start the customer again: a fresh key is minted.`,
            details: [{ orgId: input.orgId, revokedKeyId: minted.apiKey.id }],
          });
        }
        return {
          id: minted.apiKey.id,
          prefix: minted.apiKey.prefix,
          scopes: minted.apiKey.scopes,
          secretRef,
        };
      });
    },

    async allocateCredits(input: AllocateInput): Promise<AllocateResult> {
      return layersCall(async () => {
        if (keyIsUntrusted(input)) {
          const ours = await findAllocation(input.orgId, input.workflowId);
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
        const res = await layers.updateCreditConfig(
          input.orgId,
          input.patch,
          callOptions({ idempotencyKey: input.idempotencyKey }),
        );
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
            "every customer's events); start the customer again to get a child-scoped endpoint, or set LAYERS_FIREHOSE_URL for the partner firehose",
        });
      });
    },

    /**
     * Layers lists no projects, so the onboarding's project is remembered on the org (metadata
     * `onboardingProjectId`, when the customer's own metadata leaves room) and looked up there by a run
     * that cannot trust its key (`keyIssuedAt` absent: an old history, which never looked).
     */
    async createProject(input: {
      orgId: string;
      name: string;
      timezone: string;
      externalId: string;
      idempotencyKey: string;
      keyIssuedAt?: number;
      /** false: the workflow records the pointer in an activity of its own (one Layers write per activity). */
      writePointer?: boolean;
    }): Promise<{ projectId: string; reconciled?: boolean }> {
      return layersCall(async () => {
        if (
          input.keyIssuedAt !== undefined &&
          keyIsUntrusted({ idempotencyKey: input.idempotencyKey, keyIssuedAt: input.keyIssuedAt })
        ) {
          const org = await layers.getOrganization(input.orgId, callOptions());
          const pointer = org.metadata?.[PROJECT_METADATA_KEY];
          if (pointer) {
            try {
              const project = await layers.getProject(pointer, callOptions({ organizationId: input.orgId }));
              if (project.customerExternalId === input.externalId)
                return { projectId: project.id, reconciled: true };
            } catch (err) {
              if (!(err instanceof LayersApiError && err.status === 404)) throw err;
            }
          }
        }
        const project = await layers.createProject(
          { name: input.name, timezone: input.timezone, customerExternalId: input.externalId },
          callOptions({ idempotencyKey: input.idempotencyKey, organizationId: input.orgId }),
        );
        if (input.keyIssuedAt !== undefined && input.writePointer !== false)
          await recordProjectPointer(input.orgId, project.id);
        return { projectId: project.id };
      });
    },

    /**
     * Points the org at its first project (`metadata.onboardingProjectId`): Layers lists no projects, so a later
     * run finds the project through it. A write of its own, so that every write-queue activity of an onboarding
     * makes one Layers write and the queue's pacing is the key's write budget.
     */
    async recordProjectPointer(input: { orgId: string; projectId: string }): Promise<void> {
      return layersCall(() => recordProjectPointer(input.orgId, input.projectId));
    },

    /** Read back what onboarding wrote; any difference is a readable, non-retryable diff. */
    async verifyOnboarding({ orgId, expected }: VerifyInput) {
      return layersCall(async () => {
        const org = await layers.getOrganization(orgId, callOptions());
        const config = await layers.getCreditConfig(orgId, callOptions());
        const keys = await layers.listApiKeys(orgId, { limit: 100 }, callOptions());
        const diffs: string[] = [];
        const expect = (field: string, want: unknown, got: unknown) => {
          if (JSON.stringify(want) !== JSON.stringify(got))
            diffs.push(`${field}: expected ${JSON.stringify(want)}, found ${JSON.stringify(got)}`);
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
            if (expected.creditConfig[field] !== undefined)
              expect(`creditConfig.${field}`, expected.creditConfig[field], config.config[field]);
          }
          if (expected.creditConfig.refillAmount !== undefined)
            expect('creditConfig.autoRefillEnabled', true, config.config.autoRefillEnabled);
        }
        expect('summary.creditConfig', config.config, org.summary.creditConfig);
        if (org.summary.balance < 0) diffs.push(`summary.balance: negative (${org.summary.balance})`);
        if (expected.projectId && org.summary.projectCount < 1)
          diffs.push('summary.projectCount: expected at least 1, found 0');
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
