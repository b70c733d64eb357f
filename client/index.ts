export { OnboardingClient, type StartedOnboarding } from './onboarding-client';
export { InvalidInputError, LifecycleRequestRefusedError } from './errors';
export { findKeyMaterial } from '../common/key-material';
export type { OnboardingRequest, OnboardingInput } from '../common/onboarding-input';
export type { OnboardingResult, OnboardingStatus } from '../common/onboarding-messages';
