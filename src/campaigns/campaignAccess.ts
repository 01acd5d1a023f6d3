import { refusals } from '../domain/errors';
import { canManage, type Principal } from '../domain/roles';
import type { CampaignRow } from './repository';

/**
 * Drafts are private to their owner and operators: to anyone else a draft is as absent as an unknown id, so
 * no answer (not even a 403) tells that it exists. Public campaigns are visible to all.
 */
export function requireVisibleCampaign<T extends Pick<CampaignRow, 'status' | 'owner_id'>>(row: T | undefined, principal: Principal | undefined): T {
  if (!row || (row.status === 'draft' && !(principal && canManage(principal, row.owner_id)))) throw refusals.notFound('campaign');
  return row;
}
