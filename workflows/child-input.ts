import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import { WorkflowFailureType } from '../common/failure-types';
import { childInputProblems } from '../common/workflow-boundary';

/**
 * Started by the customer workflow, but any Temporal client can start it: the customer it names must be the
 * one in its workflow id, and no secret may ride in it (before the first Layers call). Runs recorded before
 * the patch never checked.
 */
export function refuseInvalidChildInput(kind: 'suspend' | 'offboarding', input: unknown): void {
  if (!patched('workflow-input-boundary')) return;
  const problems = childInputProblems(kind, input, workflowInfo().workflowId);
  if (problems.length === 0) return;
  throw ApplicationFailure.create({
    type: WorkflowFailureType.invalidWorkflowInput,
    nonRetryable: true,
    message: `Invalid ${kind} input: ${problems.join('; ')}`,
  });
}
