/**
 * Map Layers client errors to Temporal failures.
 *
 * | classification     | ApplicationFailure type          | nonRetryable | nextRetryDelay |
 * | ------------------ | -------------------------------- | ------------ | -------------- |
 * | retryable          | LayersRetryableError             | false        | Retry-After    |
 * | blocked            | LayersKillSwitchError            | true         |                |
 * | insufficient_funds | LayersInsufficientFundsError     | true         |                |
 * | non_retryable      | LayersNonRetryableError          | true         |                |
 * | contract violation | LayersContractError              | true         |                |
 * | invalid input (zod)| LayersNonRetryableError          | true         |                |
 *
 * Blocked and insufficient-funds are non-retryable at the activity level: the workflow handles
 * them by waiting durably (for the kill switch to clear / a top-up), not by burning retries.
 *
 * Failure messages and details are secret-free: no headers, no keys, no response bodies.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { z } from 'zod';

import { LayersApiError, LayersContractError } from './errors';
import { LayersFailureType } from '../../common/failure-types';
import type { LayersFailureDetails } from '../../common/failure-types';
import { redactSecrets, redactValue } from '../../common/redact';

export { LayersFailureType } from '../../common/failure-types';
export type { LayersFailureDetails, LayersFailureTypeName } from '../../common/failure-types';

function apiErrorDetails(err: LayersApiError): LayersFailureDetails {
  return {
    status: err.status ?? null,
    code: err.code,
    message: redactSecrets(err.message),
    requestId: err.requestId ?? null,
    details: err.details ? (redactValue(err.details) as Record<string, unknown>) : null,
    classification: err.classification,
    retryAfterMs: err.retryAfterMs ?? null,
    method: err.method,
    route: err.route,
  };
}

/** Convert any error thrown around a Layers call into an `ApplicationFailure`. */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;

  if (err instanceof LayersContractError) {
    const message = redactSecrets(err.message);
    const details: LayersFailureDetails = {
      status: err.status ?? null,
      code: err.code,
      message,
      requestId: err.requestId ?? null,
      details: null,
      classification: 'non_retryable',
      retryAfterMs: null,
      method: err.method,
      route: err.route,
      field: err.field,
    };
    return ApplicationFailure.create({
      type: LayersFailureType.contract,
      nonRetryable: true,
      message,
      details: [details],
    });
  }

  if (err instanceof LayersApiError) {
    const details = apiErrorDetails(err);
    const message = details.message;
    switch (err.classification) {
      case 'retryable':
        return ApplicationFailure.create({
          type: LayersFailureType.retryable,
          nonRetryable: false,
          message,
          details: [details],
          ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
        });
      case 'blocked':
        return ApplicationFailure.create({
          type: LayersFailureType.blocked,
          nonRetryable: true,
          message,
          details: [details],
        });
      case 'insufficient_funds':
        return ApplicationFailure.create({
          type: LayersFailureType.insufficientFunds,
          nonRetryable: true,
          message,
          details: [details],
        });
      case 'non_retryable':
      default:
        return ApplicationFailure.create({
          type: LayersFailureType.nonRetryable,
          nonRetryable: true,
          message,
          details: [details],
        });
    }
  }

  // Input that fails a schema (a ZodError thrown around the call): the same input fails the same way on
  // every attempt, so retrying cannot help. The message names the field and the rule, never the value.
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const field = issue?.path.length ? issue.path.map(String).join('.') : '(input)';
    const message = redactSecrets(`invalid input: ${field}: ${issue?.message ?? 'invalid'}`);
    return ApplicationFailure.create({
      type: LayersFailureType.nonRetryable,
      nonRetryable: true,
      message,
      details: [
        {
          status: null,
          code: 'INVALID_INPUT',
          message,
          requestId: null,
          details: null,
          classification: 'non_retryable',
          retryAfterMs: null,
          method: null,
          route: null,
          field,
        } satisfies LayersFailureDetails,
      ],
    });
  }

  // Anything else (a bug, an unexpected throw): retryable, with a scrubbed message and no cause
  // (a cause would carry the original, unscrubbed message and stack into history).
  const raw =
    err instanceof Error ? `${err.name}: ${err.message}` : typeof err === 'string' ? err : 'unknown error';
  const message = `Layers call failed: ${redactSecrets(raw)}`;
  return ApplicationFailure.create({
    type: LayersFailureType.retryable,
    nonRetryable: false,
    message,
    details: [
      {
        status: null,
        code: 'UNEXPECTED',
        message,
        requestId: null,
        details: null,
        classification: 'retryable',
        retryAfterMs: null,
        method: null,
        route: null,
      } satisfies LayersFailureDetails,
    ],
  });
}

/**
 * Like `toApplicationFailure`, but an aborted call (code 'ABORTED', i.e. the activity's
 * cancellation signal fired) becomes a `CancelledFailure`, so that Temporal records the activity
 * as cancelled rather than failed. Use it in activities: `catch (e) { throw toTemporalFailure(e) }`.
 */
export function toTemporalFailure(err: unknown): ApplicationFailure | CancelledFailure {
  if (err instanceof CancelledFailure) return err;
  if (err instanceof LayersApiError && err.code === 'ABORTED') {
    return new CancelledFailure(redactSecrets(err.message));
  }
  return toApplicationFailure(err);
}
