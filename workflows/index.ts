export { onboardCustomer } from './onboarding';
