import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const ONBOARDING_STEPS = [
  'preflight',
  'create-org',
  'mint-key',
  'allocate-credits',
  'credit-config',
  'firehose',
  'project',
  'verify',
] as const;
export type OnboardingStepName = (typeof ONBOARDING_STEPS)[number];

export type StepState = 'pending' | 'running' | 'waiting' | 'done' | 'skipped' | 'failed';

export interface StepStatus {
  name: OnboardingStepName;
  state: StepState;
  /** Ids and counts only; never a secret, never customer PII. */
  detail?: string;
}

export interface OnboardingResult {
  externalId: string;
  orgId: string;
  apiKey: { id: string; prefix: string; scopes: string[] };
  transferId: string;
  allocated: number;
  balance: number;
  available: number;
  creditConfig: {
    monthlyCreditCap: number | null;
    refillThreshold: number | null;
    refillAmount: number | null;
    autoRefillEnabled: boolean;
  };
  firehoseEndpointId?: string;
  projectId?: string;
  verified: true;
}

export interface OnboardingStatus {
  externalId: string;
  state: 'running' | 'waiting' | 'completed' | 'failed';
  /** Why the workflow is waiting: "blocked: kill switch" or "waiting for funds". */
  waitingFor?: string;
  currentStep?: OnboardingStepName;
  orgId?: string;
  steps: StepStatus[];
  result?: OnboardingResult;
  error?: string;
  /**
   * When this onboarding identity (`onboarding/<externalId>`) first wrote to Layers, as far as this run
   * can prove (epoch ms); absent while it cannot (an earlier run it knows nothing about may have written).
   */
  firstIssuedAt?: number;
}

export const onboardingStatusQuery = defineQuery<OnboardingStatus>('status');
/**
 * Sent to the customer workflow (`customer/<externalId>`): answers with its onboarding's result once the
 * onboarding has finished, or fails with the onboarding's failure. Refused (rejected, nothing recorded) by a
 * run that has no onboarding of its own (adopted, or continued-as-new since); the library then reads the
 * onboarding execution's result instead.
 */
export const NO_ONBOARDING_IN_THIS_RUN = 'NoOnboardingInThisRun';
/** The update id every `result` call uses: callers share one open update instead of leaving one each. */
export const ONBOARDING_RESULT_UPDATE_ID = 'onboarding-result';
export const onboardingResultUpdate = defineUpdate<OnboardingResult>('onboardingResult');
/** The partner topped up its parent wallet: re-try an allocation that was short of funds now. */
export const parentFundedSignal = defineSignal('parentFunded');

/**
 * What an onboarding carries into its next run when it continues-as-new during a long wait: the
 * validated input (validated once, never again), what the steps produced, the allocation's key
 * generation and when each idempotency key was first sent, so that the keys keep their identity.
 */
export interface OnboardingContinuation {
  input: unknown;
  steps: StepStatus[];
  firstIssuedAt?: number;
  keyIssuedAt: Record<string, number>;
  /** Keys first sent before this instant cannot be proven younger than the window (0: none can). */
  issuedFloor?: number;
  allocateGeneration: number;
  orgId?: string;
  apiKey?: { id: string; prefix: string; scopes: string[] };
  allocation?: { transferId: string; allocated: number };
  firehoseEndpointId?: string;
  projectId?: string;
  runs: number;
  /** The customer asked for the org id (`reportOrg`) before this run continued. */
  orgWanted?: boolean;
}

export interface OnboardingOptions {
  /** Look for an existing child with this externalId before creating one (set when re-running a failed onboarding). */
  reconcile?: boolean;
  /**
   * When this customer's onboarding identity first wrote to Layers (epoch ms), carried by the customer
   * workflow from an earlier run (the onboarding reports it in its failure details and status). Given
   * and younger than ~23 h, the run trusts its idempotency keys and writes directly; absent, the run
   * cannot prove its keys are young and every step looks on Layers before it writes.
   */
  firstIssuedAt?: number;
  /** Set only by the onboarding itself when it continues-as-new. */
  continued?: OnboardingContinuation;
  /**
   * Set by a customer workflow that asks for the org id when it needs it (`reportOrg`): a lean onboarding then
   * does not signal `orgCreated` on its own. Customers that do not set it (started on an older build) are told
   * at once, as before.
   */
  reportOrgWhenAsked?: boolean;
  /** How long to wait between checks while blocked; tests shorten these. */
  timing?: {
    killSwitchBackoffMs?: { initial: number; max: number };
    fundsRecheckMs?: number;
    /** How long one Layers call may take before Temporal retries it (a worker that died mid-call). */
    activityTimeoutMs?: number;
    /** Cap on the backoff between attempts of one Layers call. */
    retryMaxIntervalMs?: number;
    /** Re-checks of a funds or kill-switch wait before the onboarding continues-as-new (default 400). */
    waitRoundsPerRun?: number;
  };
}
