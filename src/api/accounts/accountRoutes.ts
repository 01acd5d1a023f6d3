import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import { Problem, problems } from '../http/problem';
import type { AppDeps } from '../deps';
import { ROLES, SELF_SERVICE_ROLES } from '../../domain/roles';
import { AccountRateLimits } from '../../accounts/accountRateLimits';
import { effectiveRole } from '../../accounts/authorization';
import { sendVerificationEmail } from '../../accounts/emailVerification';
import { LoginRateLimiter } from '../../accounts/loginRateLimit';
import { hashPassword, needsRehash, prepareDecoy, verifyAgainstDecoy, verifyPassword } from '../../accounts/passwords';
import { startSession } from '../../accounts/sessions';
import { issueToken } from '../../accounts/tokens';
import type { Config } from '../../config';
import {
  createUser,
  EmailTakenError,
  findUserByEmail,
  findUserById,
  normalizeEmail,
  updatePasswordHash,
  updateUserRole,
  type User,
} from '../../accounts/users';

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    name: z.string(),
    role: z.enum(ROLES),
    email_verified: z.boolean().openapi({ description: 'Whether a verification link sent to this address was followed.' }),
    created_at: z.iso.datetime(),
  })
  .openapi('User');

export const AuthResultSchema = z
  .object({
    user: UserSchema,
    token: z.string().openapi({ description: 'The access token: send as `Authorization: Bearer <token>`. Short-lived (TOKEN_TTL_SECONDS).' }),
    token_type: z.literal('Bearer'),
    expires_at: z.iso.datetime(),
    refresh_token: z.string().openapi({
      description: 'Opaque; exchange at POST /v1/auth/refresh for a new pair. Each one works once: reusing a replaced one ends the session.',
    }),
    refresh_expires_at: z.iso.datetime(),
  })
  .openapi('AuthResult');

const RegisterBody = z
  .strictObject({
    email: z.email().max(254),
    // Long passphrases welcome; the cap only keeps a single request from buying minutes of hashing.
    password: z.string().min(8).max(256),
    name: z.string().trim().min(1).max(100),
    role: z
      .enum(SELF_SERVICE_ROLES)
      .default('backer')
      .openapi({ description: 'Operators come only from `npm run operator -- add` or a verified address in OPERATOR_EMAILS.' }),
  })
  .openapi('RegisterRequest');

const LoginBody = z
  .strictObject({
    email: z.string().min(1).max(254),
    password: z.string().min(1).max(256),
  })
  .openapi('LoginRequest');

export function userJson(user: User, operatorEmails: readonly string[]): z.infer<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: roleOf(user, operatorEmails),
    email_verified: user.emailVerifiedAt !== null,
    created_at: user.createdAt.toISOString(),
  };
}

const roleOf = (user: User, operatorEmails: readonly string[]) =>
  effectiveRole(
    { email: user.email, baseRole: user.baseRole, emailVerified: user.emailVerifiedAt !== null, operatorGranted: user.operatorGrantedAt !== null },
    operatorEmails,
  );

/** A new session for `user`: its access token and first refresh token (login, registration). */
export async function authResult(deps: Pick<AppDeps, 'db'> & { config: Config }, user: User, session?: { sessionId: string; refreshToken: string; refreshExpiresAt: Date }) {
  const { sessionId, refreshToken, refreshExpiresAt } = session ?? (await startSession(deps.db, deps.config, user.id));
  const { token, expiresAt } = issueToken(deps.config, user.id, Date.now(), sessionId);
  return {
    user: userJson(user, deps.config.OPERATOR_EMAILS),
    token,
    token_type: 'Bearer' as const,
    expires_at: expiresAt.toISOString(),
    refresh_token: refreshToken,
    refresh_expires_at: refreshExpiresAt.toISOString(),
  };
}

export function registerAccountRoutes(api: Api, deps: AppDeps): void {
  const { db, config } = deps;
  const loginLimiter = new LoginRateLimiter(deps.redis, config);
  const accountLimits = new AccountRateLimits(deps.redis, config);
  prepareDecoy();

  api.route(
    {
      method: 'post',
      path: '/v1/auth/register',
      operationId: 'register',
      summary: 'Create an account (backer by default), start a session and mail a verification link',
      tags: ['accounts'],
      auth: 'public',
      body: RegisterBody,
      // No replays: the stored fingerprint would be derived from the password and the stored response would
      // hold a bearer token. A repeated registration answers 409 and the client can log in instead.
      idempotency: 'none',
      responses: {
        201: { description: 'Created', schema: AuthResultSchema },
        409: { description: '`email_taken`: an account with this email exists' },
        429: { description: '`rate_limited`: too many registrations from this address; see Retry-After' },
      },
    },
    async ({ req, body, log }) => {
      await accountLimits.register(req.ip ?? 'unknown');
      const email = normalizeEmail(body.email);
      // Hashed before the transaction: no pooled connection waits on argon2.
      const passwordHash = await hashPassword(body.password);
      let user: User;
      try {
        // Never an operator here, whatever OPERATOR_EMAILS says: a listed address is promoted once verified.
        user = await db.transaction(async (trx) => {
          const created = await createUser(trx, { email, name: body.name, passwordHash, role: body.role, baseRole: body.role });
          await sendVerificationEmail(trx, config, created);
          return created;
        });
      } catch (err) {
        if (err instanceof EmailTakenError) throw problems.conflict('email_taken', 'An account with this email already exists.');
        throw err;
      }
      log.info({ userId: user.id, role: user.role }, 'account registered');
      return { status: 201, body: await authResult(deps, user) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/auth/login',
      operationId: 'login',
      summary: 'Exchange email and password for a new session (access and refresh token)',
      tags: ['accounts'],
      auth: 'public',
      body: LoginBody,
      // No replays, for the same credential reasons as register; logging in again simply yields a fresh token.
      idempotency: 'none',
      responses: {
        200: { description: 'Logged in', schema: AuthResultSchema },
        401: { description: '`invalid_credentials`: unknown email or wrong password (deliberately indistinguishable)' },
        429: { description: '`rate_limited`: too many attempts for this account or from this address; see Retry-After' },
      },
    },
    async ({ req, body, log }) => {
      const email = normalizeEmail(body.email);
      await loginLimiter.beginAttempt(req.ip ?? 'unknown', email);
      const user = await findUserByEmail(db, email);
      const ok = user ? await verifyPassword(user.passwordHash, body.password) : await verifyAgainstDecoy(body.password);
      if (!user || !ok) {
        log.info({ userId: user?.id }, 'login failed');
        throw new Problem(401, 'invalid_credentials', 'Invalid credentials', 'The email or password is not correct.');
      }
      await loginLimiter.succeeded(email);
      const role = roleOf(user, config.OPERATOR_EMAILS);
      if (role !== user.role) {
        await updateUserRole(db, user.id, role);
        log.info({ userId: user.id, from: user.role, to: role }, 'role synced with OPERATOR_EMAILS');
      }
      if (needsRehash(user.passwordHash)) await updatePasswordHash(db, user.id, await hashPassword(body.password));
      return { status: 200, body: await authResult(deps, { ...user, role }) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me',
      operationId: 'getMe',
      summary: 'The account behind the token',
      tags: ['accounts'],
      auth: 'user',
      responses: { 200: { description: 'The caller', schema: UserSchema } },
    },
    async ({ principal }) => {
      const user = principal && (await findUserById(db, principal.id));
      if (!user) throw problems.unauthorized('The account behind this token no longer exists.');
      return { status: 200, body: userJson(user, config.OPERATOR_EMAILS) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/operator/users/{id}',
      operationId: 'operatorGetUser',
      summary: 'Look up any account (operators only)',
      tags: ['operations'],
      auth: ['operator'],
      params: uuidParam('id'),
      responses: {
        200: { description: 'The account', schema: UserSchema },
        404: { description: 'No such user' },
      },
    },
    async ({ params }) => {
      const user = await findUserById(db, params.id);
      if (!user) throw problems.notFound('user');
      return { status: 200, body: userJson(user, config.OPERATOR_EMAILS) };
    },
  );
}
