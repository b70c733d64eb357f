import { findKeyMaterial } from './key-material';
import { customerWorkflowId, offboardingWorkflowId, onboardingWorkflowId } from './ids';

// The workflows are the trust boundary: any Temporal client (another SDK, the `temporal` CLI) can start
// them with any input, so each checks what it was given before anything reaches Layers. These checks are
// plain code (no zod, no Intl, no URL parsing): a workflow re-decides them on every replay, so their answer
// must depend on nothing but the input. They never echo a value (it may be the secret): only field names
// and the id the workflow id implies. Changing a rule here is a workflow change (behind `patched()`).

const SECRET_HINT =
  'looks like a Layers secret (lp_live_…, lp_test_…, whsec_…); secrets never go into workflow input';

/** One error per field (dotted, under `root`) that holds key material. */
export function keyMaterialProblems(value: unknown, root: string): string[] {
  return findKeyMaterial(value).map(
    (field) => `${field === '(input)' ? root : `${root}.${field}`}: ${SECRET_HINT}`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function externalIdProblem(
  value: unknown,
  field: string,
  expectedWorkflowId: (id: string) => string,
  workflowId: string,
): string | undefined {
  if (typeof value !== 'string') return `${field}: must be a string`;
  if (expectedWorkflowId(value) !== workflowId)
    return `${field}: does not match the workflow id ${JSON.stringify(workflowId)} (a customer's workflows are named after its externalId)`;
  return undefined;
}

/**
 * `customerLifecycle` input: `externalId` names this workflow (`customer/<externalId>`), the onboarding
 * request is for the same customer, and no secret anywhere in what it would hand on. State carried across
 * continue-as-new is the workflow's own and is not re-checked (an earlier run wrote it).
 */
export function customerInputProblems(input: unknown, workflowId: string): string[] {
  if (!isRecord(input)) return ['(input): must be an object'];
  const problems: string[] = [];
  const idProblem = externalIdProblem(input.externalId, 'externalId', customerWorkflowId, workflowId);
  if (idProblem) problems.push(idProblem);
  else if (findKeyMaterial(input.externalId).length) problems.push(`externalId: ${SECRET_HINT}`);
  const onboarding = input.onboarding;
  if (onboarding !== undefined) {
    if (!isRecord(onboarding) || !isRecord(onboarding.request))
      problems.push('onboarding.request: must be an object');
    else {
      const customer = onboarding.request.customer;
      const requestId = isRecord(customer) ? customer.externalId : undefined;
      if (typeof requestId !== 'string')
        problems.push('onboarding.request.customer.externalId: must be a string');
      else if (requestId !== input.externalId)
        problems.push(
          `onboarding.request.customer.externalId: must equal externalId (the workflow id ${JSON.stringify(workflowId)})`,
        );
    }
    problems.push(...keyMaterialProblems(onboarding, 'onboarding'));
  }
  return problems;
}

/** `onboardCustomer` input: `customer.externalId` names this workflow (`onboarding/<externalId>`), no secret anywhere. */
export function onboardingInputProblems(request: unknown, workflowId: string): string[] {
  const customer = isRecord(request) ? request.customer : undefined;
  const problems: string[] = [];
  const idProblem = externalIdProblem(
    isRecord(customer) ? customer.externalId : undefined,
    'customer.externalId',
    onboardingWorkflowId,
    workflowId,
  );
  if (idProblem) problems.push(idProblem);
  problems.push(...keyMaterialProblems(request, 'request').map((p) => p.replace(/^request\./, '')));
  return problems;
}

/** `suspendCustomer` / `offboardCustomer` input: named after its customer, no secret in the reason or anywhere else. */
export function childInputProblems(
  kind: 'suspend' | 'offboarding',
  input: unknown,
  workflowId: string,
): string[] {
  if (!isRecord(input)) return ['(input): must be an object'];
  const expected =
    kind === 'offboarding'
      ? offboardingWorkflowId
      : (id: string) =>
          workflowId.startsWith(`suspend/${id}/`) && /^\d+$/.test(workflowId.slice(`suspend/${id}/`.length))
            ? workflowId
            : `suspend/${id}/<n>`;
  const problems: string[] = [];
  const idProblem = externalIdProblem(input.externalId, 'externalId', expected, workflowId);
  if (idProblem) problems.push(idProblem);
  if (typeof input.orgId !== 'string' || input.orgId.length === 0)
    problems.push('orgId: must be a non-empty string');
  problems.push(...keyMaterialProblems(input, 'input').map((p) => p.replace(/^input\./, '')));
  return problems;
}
