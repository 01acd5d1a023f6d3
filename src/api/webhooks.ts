import type { Api } from './http/api';
import type { AppDeps } from './deps';
// STUB: replaced by the payments work.
export function registerWebhookRoutes(_api: Api, _deps: AppDeps): void {}
