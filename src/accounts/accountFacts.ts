import { LRUCache } from 'lru-cache';
import type { Config } from '../config';
import type { Db } from '../infra/db';
import { createGroupCommit } from '../infra/keyedGroupCommit';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { OperatorFacts } from './authorization';
import type { BaseRole } from './users';

/**
 * What the authenticator needs to know about an account on every request, read in one statement and kept
 * in-process for AUTH_CACHE_TTL (5 s by default): hot paths (pledges, carts) pay no database read for the
 * caller while it is cached. Changes made by an API process (sign-outs, resets, verification, operator grants)
 * forget the entry there at once and in every other API process through Redis pub/sub; whatever that misses
 * (Redis down, a change made by the operator command) is seen within AUTH_CACHE_TTL.
 */
export interface AccountFacts extends OperatorFacts {
  id: string;
  /** Access tokens issued at or before this instant (ms) are refused; null when never set. */
  tokensValidAfterMs: number | null;
  /** Sessions ended within the last access-token lifetime: their access tokens may not have expired yet. */
  revokedSessions: readonly string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const cache = new LRUCache<string, AccountFacts>({ max: 100_000 });
/** Concurrent misses for one account share one read. */
const inflight = new Map<string, Promise<AccountFacts | undefined>>();
/** Bumped by every forget: a read that started before it must not store what it found. */
let epoch = 0;

type FactsConfig = Pick<Config, 'AUTH_CACHE_TTL' | 'TOKEN_TTL_SECONDS'>;

export async function accountFacts(db: Db, config: FactsConfig, userId: string): Promise<AccountFacts | undefined> {
  const hit = cache.get(userId);
  if (hit) return hit;
  // Anything that is not a UUID cannot name a user; asking Postgres would be a type error (500), not a miss.
  if (!UUID.test(userId)) return undefined;
  let pending = inflight.get(userId);
  if (!pending) {
    const startedIn = epoch;
    pending = readFacts(db, userId, config.TOKEN_TTL_SECONDS)
      .then((facts) => {
        if (facts && startedIn === epoch && config.AUTH_CACHE_TTL > 0) cache.set(userId, facts, { ttl: config.AUTH_CACHE_TTL });
        return facts;
      })
      .finally(() => inflight.delete(userId));
    inflight.set(userId, pending);
  }
  return pending;
}

/** Call after changing anything AccountFacts holds, so every API process's next request reads it afresh. */
export function forgetAccountFacts(userId: string): void {
  evict(userId);
  for (const redis of publishers) redis.publish(INVALIDATIONS_CHANNEL, userId).catch(() => undefined);
}

function evict(userId: string): void {
  epoch++;
  cache.delete(userId);
  inflight.delete(userId);
}

export const INVALIDATIONS_CHANNEL = 'accounts:facts-invalidated';
/** The Redis clients of this process's authenticators: forgetting publishes through them. */
const publishers = new Set<RedisClient>();
const listening = new WeakSet<RedisClient>();

/**
 * Makes this process hear (and tell) the other processes' forgets, once per Redis client. The subscriber
 * connection follows the main client's life, so closing that client ends both.
 */
export function shareAccountFactEvictions(redis: RedisClient, logger: Logger): void {
  if (listening.has(redis) || redis.status === 'end' || redis.status === 'close') return;
  listening.add(redis);
  publishers.add(redis);
  const sub = redis.duplicate({ lazyConnect: false });
  sub.on('error', (err: unknown) => logger.warn({ err }, 'account facts subscriber connection error'));
  sub.on('message', (_channel: string, userId: string) => evict(userId));
  sub.subscribe(INVALIDATIONS_CHANNEL).catch((err: unknown) => logger.warn({ err }, 'account facts subscription failed; relying on AUTH_CACHE_TTL'));
  redis.once('end', () => {
    publishers.delete(redis);
    sub.disconnect();
  });
}

interface FactsRow {
  id: string;
  email: string;
  base_role: BaseRole;
  email_verified: boolean;
  operator_granted: boolean;
  tokens_valid_after: Date | null;
  revoked_sessions: string[];
}

/**
 * Misses arriving while a read runs share the next one (`WHERE u.id = ANY(...)`): a crowd of first requests (a
 * drop opening, a campaign's launch) costs a statement per batch, not per account (issue 10).
 */
const readers = new WeakMap<Db, (ttlSeconds: string, userId: string) => Promise<AccountFacts | undefined>>();

function readFacts(db: Db, userId: string, accessTokenTtlSeconds: number): Promise<AccountFacts | undefined> {
  let read = readers.get(db);
  if (!read) {
    read = createGroupCommit((ttl: string, ids: string[]) => readFactsOf(db, ids, Number(ttl)), 256);
    readers.set(db, read);
  }
  return read(String(accessTokenTtlSeconds), userId);
}

async function readFactsOf(db: Db, userIds: string[], accessTokenTtlSeconds: number): Promise<Array<AccountFacts | undefined>> {
  const { rows } = await db.raw<{ rows: FactsRow[] }>(
    `SELECT u.id, u.email, u.base_role,
            u.email_verified_at IS NOT NULL AS email_verified,
            u.operator_granted_at IS NOT NULL AS operator_granted,
            u.tokens_valid_after,
            ARRAY(SELECT s.id::text FROM auth_sessions s
                  WHERE s.user_id = u.id AND s.revoked_at > now() - make_interval(secs => ?)) AS revoked_sessions
     FROM users u WHERE u.id = ANY(?::uuid[])`,
    // A minute of margin for clock skew between API processes and Postgres.
    [accessTokenTtlSeconds + 60, [...new Set(userIds)]],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return userIds.map((id) => {
    const row = byId.get(id.toLowerCase());
    if (!row) return undefined;
    return {
      id: row.id,
      email: row.email,
      baseRole: row.base_role,
      emailVerified: row.email_verified,
      operatorGranted: row.operator_granted,
      tokensValidAfterMs: row.tokens_valid_after ? row.tokens_valid_after.getTime() : null,
      revokedSessions: row.revoked_sessions,
    };
  });
}
