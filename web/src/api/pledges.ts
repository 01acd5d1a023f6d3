import type { Schemas } from './client';

export type MyPledge = Schemas['MyPledge'];
export type CampaignPledge = Schemas['CampaignPledge'];

/** Query keys: the backer's pledges, and a campaign's pledges as its owner sees them. */
export const MY_PLEDGES_KEY = ['me', 'pledges'] as const;
export const campaignPledgesKey = (campaignId: string) => ['campaign', campaignId, 'pledges'] as const;
