// Every workflow the worker runs; one file per workflow.
export * from './maintenance';
export * from './campaignLifecycle';
export * from './droppedPledge';
export * from './cartReservations';
export * from './checkout';
export * from './reconcileCommerce';
export * from './drop';
