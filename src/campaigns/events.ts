import type { RedisClient } from '../infra/redis';

/**
 * Live campaign events for SSE clients on every API replica. OWNER: notifications/SSE work (stub signature).
 * Totals are absolute, never deltas, so a client that misses one event is corrected by the next.
 */
export type CampaignEvent =
  | { type: 'progress'; pledged_cents: number; backer_count: number; percent_funded: number }
  | { type: 'status'; status: string };

export async function publishCampaignEvent(_redis: RedisClient, _campaignId: string, _event: CampaignEvent): Promise<void> {
  // STUB
}
