import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ConfigError } from '../../common/connection';
import { LayersFailureType } from '../../common/failure-types';
import { DEFAULT_TASK_QUEUE } from '../../common/ids';
import { CustomerArchivedError, InvalidInputError, OnboardingConflictError } from '../errors';
import { ImportFileError } from '../import/rows';
import { RequestRefusedError } from '../reactivate-wait';
import { UsageError } from './args';

/** The CLI's exit codes (README, "CLI"). */
export const EXIT = {
  ok: 0,
  /** The outcome asked about failed: onboarding or an update failed, a request was refused. */
  failed: 1,
  /** Bad flags, arguments or input; nothing was sent. */
  usage: 2,
  notFound: 3,
  /** Already exists or no longer possible: already started, archived. */
  conflict: 4,
  /** Temporal cannot be reached (or no worker answers), or Layers is unavailable. */
  unavailable: 5,
} as const;

/** `--json` errors: `{"error":{"code","message","field"?}}`. */
export type CliErrorCode =
  'usage' | 'invalid_input' | 'config' | 'not_found' | 'conflict' | 'unavailable' | 'failed';

export interface CliError {
  code: CliErrorCode;
  message: string;
  /** The flag, argument, input field or environment variable at fault. */
  field?: string;
}

export interface DescribedCliError {
  /** The process exit code. */
  code: number;
  /** One or a few readable lines for stderr, starting `error: `. */
  message: string;
  json: { error: CliError };
}

function described(
  exit: number,
  code: CliErrorCode,
  message: string,
  field?: string,
  hint = '',
): DescribedCliError {
  return {
    code: exit,
    message: `error: ${message}${hint}`,
    json: { error: { code, message, ...(field ? { field } : {}) } },
  };
}

/** `customer.name: must not be empty` → `customer.name`; nothing when the problem does not start with a path. */
function fieldOf(problem: string | undefined): string | undefined {
  const head = problem?.split(': ')[0];
  return head && head !== problem && /^[A-Za-z0-9_.[\]-]+$/.test(head) ? head : undefined;
}

/** Every error along the cause chain. */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e && out.length < 10; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

const LAYERS_UNAVAILABLE: string[] = [LayersFailureType.retryable, LayersFailureType.blocked];
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** Connection refused, DNS failure, the connect deadline, or gRPC UNAVAILABLE anywhere along the causes. */
function temporalUnreachable(err: unknown): boolean {
  return causes(err).some(
    (e) =>
      (e as { code?: unknown }).code === GRPC_UNAVAILABLE ||
      (e instanceof Error && /ECONNREFUSED|ENOTFOUND|Failed to connect|UNAVAILABLE/i.test(e.message)),
  );
}

function noWorkerAnswered(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return (
    /^Failed to query Workflow/.test(message) &&
    causes(err).some(
      (e) =>
        (e as { code?: unknown }).code === GRPC_DEADLINE_EXCEEDED ||
        /DEADLINE_EXCEEDED|deadline/i.test(String(e)),
    )
  );
}

/** Maps every failure to one readable message, an exit code and the `--json` error. */
export function describeCliError(err: unknown): DescribedCliError {
  if (err instanceof UsageError) {
    const help = err.command ? `npm run onboard -- ${err.command} --help` : 'npm run onboard -- help';
    return described(EXIT.usage, 'usage', err.message, err.field, `\n(run "${help}" for usage)`);
  }
  if (err instanceof InvalidInputError)
    return described(EXIT.usage, 'invalid_input', err.message, fieldOf(err.problems[0]));
  if (err instanceof ImportFileError) return described(EXIT.usage, 'invalid_input', err.message, 'file');
  if (err instanceof ConfigError)
    return described(EXIT.usage, 'config', `configuration: ${err.message}`, fieldOf(err.message));
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return described(
      EXIT.conflict,
      'conflict',
      `this customer was already onboarded (${err.workflowId}); archived customers come back with a new externalId`,
    );
  }
  if (err instanceof CustomerArchivedError) return described(EXIT.conflict, 'conflict', err.message);
  if (err instanceof OnboardingConflictError)
    return described(EXIT.conflict, 'conflict', err.message, err.fields[0]);
  if (err instanceof WorkflowNotFoundError) {
    const detail = err.message && !err.message.includes(err.workflowId) ? `: ${err.message}` : '';
    return described(
      EXIT.notFound,
      'not_found',
      `no such customer or onboarding running (${err.workflowId})${detail}`,
    );
  }
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause?.message ?? err.message;
    const layersDown = causes(err).some(
      (e) => e instanceof ApplicationFailure && LAYERS_UNAVAILABLE.includes(e.type ?? ''),
    );
    if (layersDown)
      return described(EXIT.unavailable, 'unavailable', `onboarding failed, Layers unavailable: ${cause}`);
    return described(EXIT.failed, 'failed', `onboarding failed: ${cause}`);
  }
  if (err instanceof WorkflowUpdateFailedError)
    return described(EXIT.failed, 'failed', `request refused: ${err.cause?.message ?? err.message}`);
  if (err instanceof RequestRefusedError) return described(EXIT.failed, 'failed', err.message);
  if (noWorkerAnswered(err)) {
    return described(
      EXIT.unavailable,
      'unavailable',
      `no worker answered the query: is a worker (npm run worker) polling task queue ${process.env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE}?`,
    );
  }
  if (temporalUnreachable(err)) {
    return described(
      EXIT.unavailable,
      'unavailable',
      `cannot reach Temporal at ${process.env.TEMPORAL_ADDRESS ?? 'localhost:7233'} (is the server running?)`,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return described(EXIT.failed, 'failed', message.split('\n')[0]!);
}
