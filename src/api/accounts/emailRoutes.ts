import { z } from 'zod';
import type { Api } from '../http/api';
import type { AppDeps } from '../deps';
import { AccountRateLimits } from '../../accounts/accountRateLimits';
import { requirePrincipal } from '../../accounts/authorization';
import { resendVerificationEmail, verifyEmail } from '../../accounts/emailVerification';
import { requestPasswordReset, resetPassword } from '../../accounts/passwordReset';
import { normalizeEmail } from '../../accounts/users';
import { userJson, UserSchema } from './accountRoutes';

/** Signed links are JWTs of a few hundred characters; the cap keeps absurd input out. */
const LinkToken = z.string().min(1).max(2048).openapi({ description: 'The `token` parameter of the emailed link.' });

const VerifyEmailBody = z.strictObject({ token: LinkToken }).openapi('VerifyEmailRequest');
const PasswordResetBody = z.strictObject({ email: z.string().trim().min(1).max(254) }).openapi('PasswordResetRequest');
const PasswordResetConfirmBody = z
  .strictObject({ token: LinkToken, password: z.string().min(8).max(256) })
  .openapi('PasswordResetConfirmRequest');

const LINK_REFUSALS = {
  400: { description: '`invalid_token`: altered, cut short, or not a link of this kind' },
  409: { description: '`token_used`: the link was used already (each works once)' },
  410: { description: '`token_expired`: the link has expired; ask for a new one' },
} as const;

/** Email verification and password reset: the routes behind the links accounts mail. */
export function registerAccountEmailRoutes(api: Api, deps: AppDeps): void {
  const { db, config } = deps;
  const limits = new AccountRateLimits(deps.redis, config);

  api.route(
    {
      method: 'post',
      path: '/v1/auth/verify-email',
      operationId: 'verifyEmail',
      summary: 'Follow an email verification link: the address is verified (the link works once)',
      tags: ['accounts'],
      auth: 'public',
      body: VerifyEmailBody,
      idempotency: 'none',
      responses: { 200: { description: 'The account, now verified', schema: UserSchema }, ...LINK_REFUSALS },
    },
    async ({ body, log }) => {
      const user = await verifyEmail(db, config, body.token);
      log.info({ userId: user.id }, 'email verified');
      return { status: 200, body: userJson(user, config.OPERATOR_EMAILS) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/verify-email/resend',
      operationId: 'resendVerificationEmail',
      summary: 'Mail a new verification link to the caller’s address',
      tags: ['accounts'],
      auth: 'user',
      idempotency: 'none',
      responses: {
        202: { description: 'A new link is on its way' },
        409: { description: '`email_already_verified`' },
        429: { description: '`rate_limited`: too many emails for this account or from this address; see Retry-After' },
      },
    },
    async ({ req, principal }) => {
      const caller = requirePrincipal(principal);
      await limits.accountEmail(req.ip ?? 'unknown', caller.email);
      await resendVerificationEmail(db, config, caller.id);
      return { status: 202 };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/password-reset',
      operationId: 'requestPasswordReset',
      summary: 'Mail a password reset link, if the address has an account (the answer is the same either way)',
      tags: ['accounts'],
      auth: 'public',
      body: PasswordResetBody,
      idempotency: 'none',
      responses: {
        202: { description: 'Accepted; a link is mailed when the address has an account' },
        429: { description: '`rate_limited`: too many requests for this address or from this client; see Retry-After' },
      },
    },
    async ({ req, body }) => {
      const email = normalizeEmail(body.email);
      await limits.accountEmail(req.ip ?? 'unknown', email);
      await requestPasswordReset(db, config, email);
      return { status: 202 };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/password-reset/confirm',
      operationId: 'confirmPasswordReset',
      summary: 'Set a new password with a reset link; ends every session of the account',
      tags: ['accounts'],
      auth: 'public',
      body: PasswordResetConfirmBody,
      // Never stored: the body holds a password.
      idempotency: 'none',
      responses: { 204: { description: 'Password changed; every session ended: log in with the new password' }, ...LINK_REFUSALS },
    },
    async ({ body, log }) => {
      const userId = await resetPassword(db, config, body.token, body.password);
      log.info({ userId }, 'password reset');
      return { status: 204 };
    },
  );
}
