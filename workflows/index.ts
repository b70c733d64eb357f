export { onboardCustomer } from './onboarding';
export { customerLifecycle } from './customer';
export { suspendCustomer } from './suspend';
export { offboardCustomer } from './offboarding';
export { reconcile } from './reconcile';
