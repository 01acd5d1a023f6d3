import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { effectiveRole } from './authorization';
import { accountFacts, shareAccountFactEvictions } from './accountFacts';

/**
 * Access tokens are short-lived HS256 JWTs carrying the user id and, when issued with a session (login,
 * register, refresh), that session's id. Role, existence and revocations come from the account's facts
 * (accountFacts.ts, cached in-process for AUTH_CACHE_TTL), so a sign-out, a deleted account or a change to
 * OPERATOR_EMAILS takes effect without waiting for the token to expire.
 */
export const TOKEN_ISSUER = 'pledgeflow';
export const TOKEN_AUDIENCE = 'pledgeflow-api';
const ALGORITHM = 'HS256';

/**
 * The HMAC key as a KeyObject, made once per secret: given a string, jsonwebtoken first tries (and fails) to
 * parse it as a PEM public key on every verify, which cost ~6 % of a pledge's CPU in the profiles.
 */
const keys = new Map<string, KeyObject>();
export function hmacKey(secret: string | Buffer): KeyObject {
  const id = typeof secret === 'string' ? secret : secret.toString('base64');
  let key = keys.get(id);
  if (!key) {
    key = createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
    keys.set(id, key);
  }
  return key;
}

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

/**
 * `sessionId` ties the token to a refresh-token family, so ending that session refuses it too. Tokens minted
 * without one (tests, benches) end only with "sign out everywhere" or their expiry.
 */
export function issueToken(
  config: Pick<Config, 'JWT_SECRET' | 'TOKEN_TTL_SECONDS'>,
  userId: string,
  now = Date.now(),
  sessionId?: string,
): IssuedToken {
  const iat = Math.floor(now / 1000);
  const exp = iat + config.TOKEN_TTL_SECONDS;
  // iat has whole seconds; iat_ms lets "sign out everywhere" refuse tokens made earlier in the same second
  // while accepting the one a login makes right after it.
  const claims = { iat, exp, iat_ms: now, ...(sessionId ? { sid: sessionId } : {}) };
  const token = jwt.sign(claims, hmacKey(config.JWT_SECRET), {
    algorithm: ALGORITHM,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    subject: userId,
  });
  return { token, expiresAt: new Date(exp * 1000) };
}

export interface AccessClaims {
  userId: string;
  /** When the token was issued, in milliseconds. */
  issuedAtMs: number;
  sessionId?: string;
}

/** The claims of a valid token; 401 (unauthenticated) for a bad signature, wrong issuer/audience, or expiry. */
export function readAccessToken(config: Pick<Config, 'JWT_SECRET'>, token: string): AccessClaims {
  let payload: string | jwt.JwtPayload;
  try {
    // Pinning the algorithm stops "alg: none" and algorithm-confusion tokens.
    payload = jwt.verify(token, hmacKey(config.JWT_SECRET), { algorithms: [ALGORITHM], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw refusals.unauthenticated('The token has expired; log in again.');
    throw refusals.unauthenticated('The token is not valid.');
  }
  if (typeof payload === 'string' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') {
    throw refusals.unauthenticated('The token is not valid.');
  }
  const iatMs = typeof payload.iat_ms === 'number' ? payload.iat_ms : typeof payload.iat === 'number' ? payload.iat * 1000 : 0;
  return { userId: payload.sub, issuedAtMs: iatMs, ...(typeof payload.sid === 'string' ? { sessionId: payload.sid } : {}) };
}

/** The user id a valid token names (see readAccessToken). */
export function verifyToken(config: Pick<Config, 'JWT_SECRET'>, token: string): string {
  return readAccessToken(config, token).userId;
}

/**
 * Checks a bearer token against the account's facts: without a database read per request while the facts are
 * cached (AUTH_CACHE_TTL), one small read when they are not.
 */
export function createAuthenticator(deps: {
  config: Pick<Config, 'JWT_SECRET' | 'OPERATOR_EMAILS' | 'AUTH_CACHE_TTL' | 'TOKEN_TTL_SECONDS'>;
  db: Db;
  /** With Redis, sign-outs made in other processes evict this process's cached facts at once. */
  redis?: RedisClient;
  logger?: Logger;
}): (token: string) => Promise<Principal> {
  if (deps.redis && deps.logger) shareAccountFactEvictions(deps.redis, deps.logger);
  return async (token) => {
    const claims = readAccessToken(deps.config, token);
    const facts = await accountFacts(deps.db, deps.config, claims.userId);
    if (!facts) throw refusals.unauthenticated('The account behind this token no longer exists.');
    if (facts.tokensValidAfterMs !== null && claims.issuedAtMs <= facts.tokensValidAfterMs) {
      throw refusals.unauthenticated('This token was revoked (signed out everywhere or password changed); log in again.');
    }
    if (claims.sessionId && facts.revokedSessions.includes(claims.sessionId)) {
      throw refusals.unauthenticated('This session has ended; log in again.');
    }
    return { id: facts.id, email: facts.email, role: effectiveRole(facts, deps.config.OPERATOR_EMAILS) };
  };
}
