import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Search attributes are stored unencrypted and shown to every operator: ids and states only, never
// customer names or emails.
export const LayersCustomerId = defineSearchAttributeKey('LayersCustomerId', SearchAttributeType.KEYWORD);
export const LayersOrgId = defineSearchAttributeKey('LayersOrgId', SearchAttributeType.KEYWORD);
export const LayersOnboardingStep = defineSearchAttributeKey(
  'LayersOnboardingStep',
  SearchAttributeType.KEYWORD,
);
export const LayersLifecycleState = defineSearchAttributeKey(
  'LayersLifecycleState',
  SearchAttributeType.KEYWORD,
);

/** Registered on the dev server at start-up and by `temporal operator search-attribute create` in production. */
export const customSearchAttributes = [
  LayersCustomerId,
  LayersOrgId,
  LayersOnboardingStep,
  LayersLifecycleState,
];
