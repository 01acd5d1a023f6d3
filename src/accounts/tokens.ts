import type { Authenticator } from '../api/http/api';
import type { AppDeps } from '../api/deps';
import { problems } from '../api/http/problem';
// STUB: replaced by the accounts work.
export function createAuthenticator(_deps: AppDeps): Authenticator {
  return async () => {
    throw problems.unauthorized();
  };
}
