import { patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';

/** Behind this patch an upsert carries only the attributes whose value changes (none: no command at all). */
export const SKIP_UNCHANGED_UPSERTS = 'skip-unchanged-upserts';

/**
 * Every upsert is a command and a visibility write; the step and state updates repeat values often (a step
 * marked running, then done). Histories recorded before the patch replay with every upsert, as they ran.
 */
export function upsertChangedSearchAttributes(
  updates: SearchAttributeUpdatePair[],
  /** The caller's run took a later patch that implies this one: no second patch marker (each costs an upsert). */
  implied = false,
): void {
  if (!implied && !patched(SKIP_UNCHANGED_UPSERTS)) {
    upsertSearchAttributes(updates);
    return;
  }
  const current = workflowInfo().typedSearchAttributes;
  const changed = updates.filter((update) => {
    const now = current.get(update.key);
    return (update.value ?? undefined) !== (now ?? undefined);
  });
  if (changed.length) upsertSearchAttributes(changed);
}
