import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { toApplicationFailure, type CallOptions } from './layers';

/** Call options bound to the running activity, so a cancelled activity aborts its HTTP request. */
export function callOptions<T extends CallOptions>(extra: T = {} as T): T {
  return { signal: Context.current().cancellationSignal, ...extra };
}

/** Every activity body runs through this, so failures reach Temporal classified and secret-free. */
export async function layersCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw toApplicationFailure(err);
  }
}
