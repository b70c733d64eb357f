/** Names of the orchestrator's own metrics (dependency-free: the workflow sandbox imports it too). */
export const METRIC_NAMES = {
  onboardingsStarted: 'layers_onboardings_started',
  onboardingsCompleted: 'layers_onboardings_completed',
  onboardingsFailed: 'layers_onboardings_failed',
  /** Histogram, ms, tag outcome = funded | abandoned. */
  fundsWait: 'layers_onboarding_funds_wait',
  /** Counter, tags method, route, status, endpoint_class. */
  apiCalls: 'layers_api_calls',
  /** Histogram, ms, tags method, route. */
  apiCallDuration: 'layers_api_call_duration',
  /** Counter of 429 responses, tags method, route. */
  rateLimited: 'layers_api_rate_limited',
} as const;
