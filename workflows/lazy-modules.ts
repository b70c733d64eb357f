// The input schemas (zod) are needed only on rare paths in workflow code: update validators, signals,
// and onboardings recorded before their validation moved into a local activity. Webpack bundles a module
// that is `require`d but evaluates it only on first use, so a new workflow does not pay for building zod
// and every schema (the reusable V8 context evaluates the workflow modules afresh for each workflow).
/* eslint-disable @typescript-eslint/no-require-imports, no-restricted-globals -- lazy, bundled by webpack (see above) */

export function lifecycleInput(): typeof import('../common/lifecycle-input') {
  return require('../common/lifecycle-input') as typeof import('../common/lifecycle-input');
}

export function onboardingInput(): typeof import('../common/onboarding-input') {
  return require('../common/onboarding-input') as typeof import('../common/onboarding-input');
}
