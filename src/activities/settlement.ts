import type { ActivityDeps } from '../workers/deps';
// STUB: settlement batches and dropped-pledge steps (payments task queue). OWNER: settlement work.
export function createSettlementActivities(_deps: ActivityDeps) {
  return {};
}
