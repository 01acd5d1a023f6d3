import type { ActivityDeps } from '../workers/deps';
import { createCampaignActivities, createSettlementActivities } from './campaigns/campaignLifecycle';
import { createHoldExpiryActivities } from './commerce/holdExpiry';
import { createCheckoutActivities } from './commerce/checkout';
import { createDropActivities } from './drops/drop';
import { createFcfsActivities } from './drops/fcfsSale';
import { createMaintenanceActivities } from './maintenance/purgeExpiredRecords';
import { createCheckoutPaymentActivities } from './commerce/checkoutPayments';
import { createReconciliationActivities } from './commerce/reconcileCommerce';
import { createDroppedPledgeActivities, createDroppedPledgePaymentActivities } from './campaigns/droppedPledge';
import { createProviderOnboardingActivities } from './bookings/providerOnboarding';
import { createBookingActivities } from './bookings/booking';
import { createBookingLifecycleActivities } from './bookings/bookingLifecycle';
import { createBookingPaymentActivities } from './bookings/bookingPayments';
import { createBookingReconciliationActivities, createBookingReconciliationPaymentActivities } from './bookings/reconcileBookings';
import { createChargeActivities, createChargePaymentActivities } from './billing/charges';
import { createPayoutActivities, createPayoutPaymentActivities } from './billing/payouts';
import { createSubscriptionActivities, createSubscriptionPaymentActivities } from './billing/subscription';
import { createBillingReconciliationActivities, createBillingReconciliationPaymentActivities } from './billing/reconcileBilling';

/** Activities served on the main task queue (database, Redis, notifications: no payment provider calls). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createMaintenanceActivities(deps),
    ...createCampaignActivities(deps),
    ...createDroppedPledgeActivities(deps),
    ...createHoldExpiryActivities(deps),
    ...createCheckoutActivities(deps),
    ...createDropActivities(deps),
    ...createFcfsActivities(deps),
    // Includes the rare void of an orphaned checkout authorization (a provider call), see reconciliation.ts.
    ...createReconciliationActivities(deps),
    ...createProviderOnboardingActivities(deps),
    ...createBookingActivities(deps),
    ...createBookingLifecycleActivities(deps),
    ...createBookingReconciliationActivities(deps),
    ...createChargeActivities(deps),
    ...createPayoutActivities(deps),
    ...createSubscriptionActivities(deps),
    ...createBillingReconciliationActivities(deps),
  };
}

/** Activities served on the rate-limited payments task queue: every one of them reaches the payment provider. */
export function createPaymentQueueActivities(deps: ActivityDeps) {
  return {
    ...createCheckoutPaymentActivities(deps),
    ...createSettlementActivities(deps),
    ...createDroppedPledgePaymentActivities(deps),
    ...createBookingPaymentActivities(deps),
    ...createBookingReconciliationPaymentActivities(deps),
    ...createChargePaymentActivities(deps),
    ...createPayoutPaymentActivities(deps),
    ...createSubscriptionPaymentActivities(deps),
    ...createBillingReconciliationPaymentActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type PaymentQueueActivities = ReturnType<typeof createPaymentQueueActivities>;
export type CheckoutPaymentActivities = ReturnType<typeof createCheckoutPaymentActivities>;
