import { z } from 'zod';
import type { Api } from '../http/api';
import type { AppDeps } from '../deps';
import { forgetAccountFacts } from '../../accounts/accountFacts';
import { requirePrincipal } from '../../accounts/authorization';
import { endSessions, revokeEverything, rotateRefreshToken } from '../../accounts/sessions';
import { readAccessToken } from '../../accounts/tokens';
import { findUserById } from '../../accounts/users';
import { refusals } from '../../domain/errors';
import { authResult, AuthResultSchema } from './accountRoutes';

const RefreshBody = z
  .strictObject({
    // Opaque tokens are 43 characters; the cap only keeps absurd input out.
    refresh_token: z.string().min(1).max(512),
  })
  .openapi('RefreshRequest');

/** Sessions: rotating refresh tokens, logout, and sign out everywhere. */
export function registerSessionRoutes(api: Api, deps: AppDeps): void {
  const { db, config } = deps;

  api.route(
    {
      method: 'post',
      path: '/v1/auth/refresh',
      operationId: 'refreshSession',
      // Each refresh token works once: presenting one that was already exchanged ends its whole session (theft
      // detection), so a client stores the new refresh token before anything else.
      summary: 'Exchange a refresh token for a new access token and refresh token (each refresh token works once)',
      tags: ['accounts'],
      auth: 'public',
      body: RefreshBody,
      // Never replayed: the stored response would hold live tokens.
      idempotency: 'none',
      responses: {
        200: { description: 'A new pair for the same session', schema: AuthResultSchema },
        401: { description: '`unauthorized`: unknown, expired or already used refresh token, or an ended session' },
      },
    },
    async ({ body, log }) => {
      const rotated = await rotateRefreshToken(db, config, body.refresh_token);
      const user = await findUserById(db, rotated.userId);
      if (!user) throw refusals.unauthenticated('The account behind this session no longer exists.');
      log.info({ userId: user.id, sessionId: rotated.sessionId }, 'session refreshed');
      return { status: 200, body: await authResult(deps, user, rotated) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/logout',
      operationId: 'logout',
      summary: 'End the session of this access token: its refresh token and access tokens stop working',
      tags: ['accounts'],
      auth: 'user',
      idempotency: 'none',
      responses: {
        204: {
          description:
            'Signed out (also when the session had already ended). A token issued without a session (minted for tests and benches) ends nothing: use logout-everywhere.',
        },
      },
    },
    async ({ req, principal, log }) => {
      const user = requirePrincipal(principal);
      // The authenticator has accepted this header already; read it again for the session id it carries.
      const token = /^Bearer\s+(\S+)/i.exec(req.get('authorization') ?? '')![1]!;
      const { sessionId } = readAccessToken(config, token);
      if (sessionId) {
        await endSessions(db, { sessionId }, 'logout');
        forgetAccountFacts(user.id);
      }
      log.info({ userId: user.id, sessionId }, 'signed out');
      return { status: 204 };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/logout-everywhere',
      operationId: 'logoutEverywhere',
      summary: 'Sign out everywhere: end every session of the account and refuse every access token issued until now',
      tags: ['accounts'],
      auth: 'user',
      idempotency: 'none',
      responses: { 204: { description: 'Every session ended; log in again to get a new one' } },
    },
    async ({ principal, log }) => {
      const user = requirePrincipal(principal);
      await db.transaction((trx) => revokeEverything(trx, user.id, 'logout_everywhere'));
      forgetAccountFacts(user.id);
      log.info({ userId: user.id }, 'signed out everywhere');
      return { status: 204 };
    },
  );
}
