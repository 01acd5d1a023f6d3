import type { ActivityDeps } from '../../workers/deps';

// Placeholder while the bookings domain is built (issue 12).
export function createProviderOnboardingActivities(_deps: ActivityDeps) {
  return {};
}
