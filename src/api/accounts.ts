import type { Api } from './http/api';
import type { AppDeps } from './deps';
// STUB: replaced by the accounts work.
export function registerAccountRoutes(_api: Api, _deps: AppDeps): void {}
