import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import { DomainError, refusals } from '../domain/errors';
import { hmacKey, TOKEN_ISSUER } from '../accounts/tokens';

/**
 * Waiting-room tokens: HS256 JWTs naming one place in one drop's line (`sub` = the drop_queue row id, `drop`,
 * `uid`). They carry no position (that lives in Postgres and moves as the line does), so a token cannot be
 * edited into a better place and stays small. They are signed with a key derived from JWT_SECRET for this
 * purpose alone and carry their own audience, so a queue token is never a bearer token, nor the reverse.
 */
const AUDIENCE = 'pledgeflow-drop-queue';
const ALGORITHM = 'HS256';

const signingKey = (config: Pick<Config, 'JWT_SECRET'>) => hmacKey(createHmac('sha256', config.JWT_SECRET).update('drop-queue-token/v1').digest());

export interface QueueTokenClaims {
  queueId: string;
  dropId: string;
  userId: string;
}

export interface IssuedQueueToken {
  token: string;
  expiresAt: Date;
}

/**
 * A token valid DROP_QUEUE_TOKEN_TTL from the later of now and the opening: someone who joins a day early is
 * still in line when the room opens.
 */
export function issueQueueToken(
  config: Pick<Config, 'JWT_SECRET' | 'DROP_QUEUE_TOKEN_TTL'>,
  claims: QueueTokenClaims,
  opensAt: Date,
  now = Date.now(),
): IssuedQueueToken {
  const iat = Math.floor(now / 1000);
  const exp = Math.ceil((Math.max(now, opensAt.getTime()) + config.DROP_QUEUE_TOKEN_TTL) / 1000);
  const token = jwt.sign({ iat, exp, drop: claims.dropId, uid: claims.userId }, signingKey(config), {
    algorithm: ALGORITHM,
    issuer: TOKEN_ISSUER,
    audience: AUDIENCE,
    subject: claims.queueId,
  });
  return { token, expiresAt: new Date(exp * 1000) };
}

/** 404 `queue_token_invalid`: also for a valid token used by another account (it names no place of theirs). */
export const queueTokenInvalid = () => new DomainError('not_found', 'queue_token_invalid', 'This is not a place in this drop\'s line.');

/**
 * The place a token names. 404 `queue_token_invalid` for anything not signed by us for this drop (forged,
 * mangled, another drop's, a bearer token); 410 `queue_token_expired` for an expired one (joining again
 * returns the same place with a fresh token).
 */
export function verifyQueueToken(config: Pick<Config, 'JWT_SECRET'>, token: string, dropId: string): QueueTokenClaims & { expiresAt: Date } {
  let payload: string | jwt.JwtPayload;
  try {
    // Pinning the algorithm stops "alg: none" and algorithm-confusion tokens.
    payload = jwt.verify(token, signingKey(config), { algorithms: [ALGORITHM], issuer: TOKEN_ISSUER, audience: AUDIENCE });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) {
      throw refusals.gone('queue_token_expired', 'This queue token has expired; join the queue again to get a fresh token for the same place.');
    }
    throw queueTokenInvalid();
  }
  if (typeof payload === 'string' || typeof payload.sub !== 'string' || payload.drop !== dropId || typeof payload.uid !== 'string' || typeof payload.exp !== 'number') {
    throw queueTokenInvalid();
  }
  return { queueId: payload.sub, dropId, userId: payload.uid as string, expiresAt: new Date(payload.exp * 1000) };
}
