import type { ActivityDeps } from '../workers/deps';
// STUB: replaced by the payments work.
export function createPaymentActivities(_deps: ActivityDeps) {
  return {};
}
