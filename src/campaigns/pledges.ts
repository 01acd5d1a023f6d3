import { createPledgeChanges } from './pledgeChanges';
import { createPledgeCreation, type PledgeServiceDeps } from './pledgeCreation';
import { createPledgeQueries } from './pledgeQueries';

/**
 * The pledge routes' one object: creation and confirm (pledgeCreation), the backer's changes
 * (pledgeChanges) and who sees which pledges (pledgeQueries). Card replacement is pledgeRecovery.
 */
export function createPledgeService(deps: PledgeServiceDeps) {
  return { ...createPledgeCreation(deps), ...createPledgeChanges(deps), ...createPledgeQueries(deps) };
}

export type PledgeService = ReturnType<typeof createPledgeService>;
export type { PledgeServiceDeps };
export type { CreatePledgeInput, PledgeResult } from './pledgeCreation';
export type { EditPledgeInput } from './pledgeChanges';
