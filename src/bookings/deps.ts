import type { ServiceDeps } from '../infra/serviceDeps';

/** What the bookings services use of the outside world; the API and the workers each pass their own. */
export type BookingsDeps = ServiceDeps;
