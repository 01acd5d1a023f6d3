// Every workflow the worker runs; one file per workflow.
export * from './maintenance/purgeExpiredRecords';
export * from './campaigns/campaignLifecycle';
export * from './campaigns/droppedPledge';
export * from './commerce/holdExpiry';
export * from './commerce/checkout';
export * from './commerce/reconcileCommerce';
export * from './drops/drop';
export * from './bookings/providerOnboarding';
export * from './bookings/booking';
export * from './bookings/reconcileBookings';
export * from './billing/payouts';
export * from './billing/subscription';
export * from './billing/reconcileBilling';
export * from './billing/closeFeeInvoices';
