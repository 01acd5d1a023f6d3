import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { effectiveRole } from './authorization';
import { findUserById } from './users';

/**
 * Bearer tokens are HS256 JWTs carrying only the user id. Role and existence are read from the database on
 * every request, so a deleted account or a change to OPERATOR_EMAILS takes effect without waiting for expiry.
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

export function issueToken(config: Pick<Config, 'JWT_SECRET' | 'TOKEN_TTL_SECONDS'>, userId: string, now = Date.now()): IssuedToken {
  const iat = Math.floor(now / 1000);
  const exp = iat + config.TOKEN_TTL_SECONDS;
  const token = jwt.sign({ iat, exp }, hmacKey(config.JWT_SECRET), {
    algorithm: ALGORITHM,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    subject: userId,
  });
  return { token, expiresAt: new Date(exp * 1000) };
}

/** The user id a valid token names; 401 (unauthenticated) for a bad signature, wrong issuer/audience, or expiry. */
export function verifyToken(config: Pick<Config, 'JWT_SECRET'>, token: string): string {
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
  return payload.sub;
}

export function createAuthenticator(deps: { config: Pick<Config, 'JWT_SECRET' | 'OPERATOR_EMAILS'>; db: Db }): (token: string) => Promise<Principal> {
  return async (token) => {
    const userId = verifyToken(deps.config, token);
    const user = await findUserById(deps.db, userId);
    if (!user) throw refusals.unauthenticated('The account behind this token no longer exists.');
    return { id: user.id, email: user.email, role: effectiveRole(user.email, user.baseRole, deps.config.OPERATOR_EMAILS) };
  };
}
