import { z } from 'zod';
import { pageQuery, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { listMyCampaigns } from '../../campaigns/myCampaigns';
import { CampaignListSchema } from './campaignRoutes';

/** GET /v1/me/campaigns: a creator's own campaigns, drafts included (the web app's "My campaigns"). */
export function registerMyCampaignRoutes(api: Api, deps: AppDeps): void {
  api.route(
    {
      method: 'get',
      path: '/v1/me/campaigns',
      operationId: 'listMyCampaigns',
      summary: 'Your campaigns in every status, drafts included, newest first',
      tags: ['campaigns'],
      auth: ['creator'],
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of your campaigns', schema: CampaignListSchema } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listMyCampaigns(deps.db, requirePrincipal(principal), query) }),
  );
}
