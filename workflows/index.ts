export { onboardCustomer } from './onboarding';
export { customerLifecycle } from './customer';
export { suspendCustomer } from './suspend';
export { offboardCustomer } from './offboarding';
export { reconcile } from './reconcile';
// Versioning behaviors are attached to the functions above: the worker reads them from these exports.
import './versioning';
