// Every workflow the worker runs; one file per domain.
export * from './maintenance';
