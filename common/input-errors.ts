// Shared by the input schemas (common/onboarding-input.ts, common/lifecycle-input.ts). Pure: it runs in
// workflows too.

/**
 * A zod `error` option that says `required` when the field is missing, and `message` (or, without one,
 * zod's own wording) when it is there but of the wrong type: `customer.name: required` rather than
 * `customer.name: expected string, received undefined`.
 */
export function requiredOr(message?: string) {
  return (issue: { input?: unknown }): string | undefined =>
    issue.input === undefined ? 'required' : message;
}
