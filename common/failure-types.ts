/**
 * ApplicationFailure type names for Layers errors, and the shape of their details.
 *
 * Dependency-free on purpose so that workflow code can `import type` (or, if its lint rules
 * allow, import) these names without pulling undici/zod into the workflow bundle.
 */
export const LayersFailureType = {
  retryable: 'LayersRetryableError',
  blocked: 'LayersKillSwitchError',
  insufficientFunds: 'LayersInsufficientFundsError',
  nonRetryable: 'LayersNonRetryableError',
  contract: 'LayersContractError',
} as const;

export type LayersFailureTypeName = (typeof LayersFailureType)[keyof typeof LayersFailureType];

/** The single entry of `ApplicationFailure.details` for a Layers failure. Never headers, never secrets. */
export interface LayersFailureDetails {
  status: number | null;
  code: string;
  message: string;
  requestId: string | null;
  details: Record<string, unknown> | null;
  /** 'retryable' | 'blocked' | 'insufficient_funds' | 'non_retryable' */
  classification: string;
  retryAfterMs: number | null;
  method: string | null;
  route: string | null;
  /** Contract errors only: the offending field's dotted path. */
  field?: string;
}

/** ApplicationFailure types the orchestrator's own workflows fail with; clients match on these strings. */
export const WorkflowFailureType = {
  invalidOnboardingInput: 'InvalidOnboardingInput',
  onboardingStopped: 'OnboardingStopped',
  customerNotFound: 'CustomerNotFound',
  customerOnboardingFailed: 'CustomerOnboardingFailed',
  /** A workflow was started (by any Temporal client) with input it refuses: ids or secrets; the message names the field. */
  invalidWorkflowInput: 'InvalidWorkflowInput',
} as const;
