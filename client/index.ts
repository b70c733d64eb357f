export { OnboardingClient, type StartedOnboarding } from './onboarding-client';
export { InvalidInputError } from './errors';
export { findKeyMaterial } from './key-material';
export type { OnboardingRequest, OnboardingInput } from '../workflows/onboarding-input';
export type { OnboardingResult, OnboardingStatus } from '../workflows/onboarding-messages';
