import type { ServiceDeps } from '../infra/serviceDeps';

/** What the drops services use of the outside world; the API and the workers each pass their own. */
export type DropsDeps = ServiceDeps;
