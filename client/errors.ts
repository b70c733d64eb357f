import { WorkflowUpdateFailedError } from '@temporalio/client';

/** Input refused before anything started; each problem names its field. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `invalid input: ${problems[0]}`
        : `invalid input:\n  - ${problems.join('\n  - ')}`,
    );
  }
}

/** The customer's workflow has completed (archived): archival is terminal, so it cannot be onboarded again. */
export class CustomerArchivedError extends Error {
  override name = 'CustomerArchivedError';
  constructor(readonly externalId: string) {
    super(
      `customer ${externalId} was offboarded and its child org archived (workflow customer/${externalId} completed); ` +
        'archival is terminal, so onboard a returning customer under a new externalId',
    );
  }
}

/**
 * A waited pause / resume / churn the customer's workflow could not apply: the customer is unknown to
 * Layers, archived (here or outside the orchestrator), or the child that carried it out failed (then
 * the customer shows `needs-attention`). `reason` is the workflow's answer. It is the update's failure,
 * so code (and the CLI) that handles WorkflowUpdateFailedError keeps working.
 */
export class LifecycleRequestRefusedError extends WorkflowUpdateFailedError {
  override name = 'LifecycleRequestRefusedError';
  constructor(
    readonly externalId: string,
    readonly kind: string,
    readonly reason: string,
    /** `CustomerNotFound`, `LifecycleRequestRefused` or `CustomerOnboardingFailed`. */
    readonly failureType: string,
    cause?: Error,
  ) {
    super(
      reason.startsWith(`${kind} of customer`)
        ? reason
        : `${kind} of customer ${externalId} refused: ${reason}`,
      cause,
    );
  }
}

/**
 * `start` found the customer's onboarding already running (or run) with a different request: nothing was
 * started and nothing attached. `fields` names where the bodies differ (`credits`, `customer.name`, or
 * `(body)` when the first request is no longer on record).
 */
export class OnboardingConflictError extends Error {
  override name = 'OnboardingConflictError';
  constructor(
    readonly externalId: string,
    readonly fields: string[],
    detail: string,
    readonly requestHash: string,
    readonly existingRequestHash?: string,
  ) {
    super(`${detail} (differs in: ${fields.join(', ')})`);
  }
}
