import type { ActivityDeps } from '../workers/deps';
import { createMaintenanceActivities } from './maintenance';
import { createPaymentActivities } from './payments';

/** Activities served on the main task queue. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createMaintenanceActivities(deps),
  };
}

/** Activities served on the rate-limited payments task queue (every call reaches the payment provider). */
export { createPaymentActivities };

export type Activities = ReturnType<typeof createActivities>;
export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
