import type { ActivityDeps } from '../workers/deps';
// STUB: campaign lifecycle activities (main task queue). OWNER: campaigns work.
export function createCampaignActivities(_deps: ActivityDeps) {
  return {};
}
