import type { Api } from './http/api';
import type { AppDeps } from './deps';
// STUB: replaced by its owner.
export function registerPledgeRecoveryRoutes(_api: Api, _deps: AppDeps): void {}
