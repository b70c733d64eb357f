import { defineQuery, defineSignal } from '@temporalio/workflow';

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
  creditConfig: { monthlyCreditCap: number | null; refillThreshold: number | null; refillAmount: number | null; autoRefillEnabled: boolean };
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
}

export const onboardingStatusQuery = defineQuery<OnboardingStatus>('status');
/** The partner topped up its parent wallet: re-try an allocation that was short of funds now. */
export const parentFundedSignal = defineSignal('parentFunded');

export interface OnboardingOptions {
  /** Look for an existing child with this externalId before creating one (set when re-running a failed onboarding). */
  reconcile?: boolean;
  /** How long to wait between checks while blocked; tests shorten these. */
  timing?: {
    killSwitchBackoffMs?: { initial: number; max: number };
    fundsRecheckMs?: number;
    /** How long one Layers call may take before Temporal retries it (a worker that died mid-call). */
    activityTimeoutMs?: number;
    /** Cap on the backoff between attempts of one Layers call. */
    retryMaxIntervalMs?: number;
  };
}
