import type { Api } from '../http/api';
import type { AppDeps } from '../deps';

// Placeholder while the bookings domain is built (issue 12).
export function registerBookingRoutes(_api: Api, _deps: AppDeps): void {}
