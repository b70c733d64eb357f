import {
  DefaultFailureConverter,
  type DefaultFailureConverterOptions,
  type PayloadConverter,
  type ProtoFailure,
} from '@temporalio/common';
import { redactSecrets } from '../redact';

// Loaded by path (`failureConverterPath`): the worker requires it for activities and bundles it into
// the workflow sandbox, so it stays pure — no Node built-ins, nothing but @temporalio/common and the
// pattern-only redactor.

/** Scrub key material from a failure's message and stack trace, down its cause chain. */
export function sanitizeFailure(failure: ProtoFailure, depth = 0): ProtoFailure {
  if (depth > 20) return failure;
  if (failure.message) failure.message = redactSecrets(failure.message);
  if (failure.stackTrace) failure.stackTrace = redactSecrets(failure.stackTrace);
  if (failure.cause) sanitizeFailure(failure.cause, depth + 1);
  return failure;
}

/**
 * The default converter, plus: every message and stack trace is scrubbed of Layers keys, signing
 * secrets and bearer tokens before it reaches history. With `encodeCommonAttributes` (used when the
 * payload codec is on) messages and stack traces are moved into a payload, which the codec encrypts.
 */
export class SanitizingFailureConverter extends DefaultFailureConverter {
  constructor(options?: Partial<DefaultFailureConverterOptions>) {
    super(options);
  }

  override errorToFailureInner(
    err: unknown,
    payloadConverter: PayloadConverter,
    context?: Parameters<DefaultFailureConverter['errorToFailureInner']>[2],
  ): ProtoFailure {
    return sanitizeFailure(super.errorToFailureInner(err, payloadConverter, context));
  }
}

export const failureConverter = new SanitizingFailureConverter();
