import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../logger';
import { noteEndpoint } from './outages';

// bigint columns (money totals, counters) come back as strings by default; every amount we store fits
// in a JS safe integer (< 2^53 minor units), so parse them as numbers once, here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export type Db = Knex;

/** Bounded waits, so no request hangs on a Postgres that is down or a pool that is exhausted (both answer 503). */
export interface DbTimeouts {
  acquireMs: number;
  connectMs: number;
}

export function createDb(databaseUrl: string, poolMax = 10, logger?: Logger, timeouts: DbTimeouts = { acquireMs: 5_000, connectMs: 3_000 }): Db {
  noteEndpoint('postgres', databaseUrl, 5432);
  return knex({
    // knex logs with console.* by default; send it through the structured logger instead.
    log: logger && {
      warn: (m: unknown) => logger.warn({ knex: m }, 'knex warning'),
      error: (m: unknown) => logger.error({ knex: m }, 'knex error'),
      deprecate: (m: unknown) => logger.warn({ knex: m }, 'knex deprecation'),
      debug: (m: unknown) => logger.debug({ knex: m }, 'knex debug'),
    },
    client: 'pg',
    connection: { connectionString: databaseUrl, connectionTimeoutMillis: timeouts.connectMs },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: timeouts.acquireMs,
  });
}

/** The pool's waits from configuration. */
export const dbTimeouts = (config: { DATABASE_ACQUIRE_TIMEOUT_MS: number; DATABASE_CONNECT_TIMEOUT_MS: number }): DbTimeouts => ({
  acquireMs: config.DATABASE_ACQUIRE_TIMEOUT_MS,
  connectMs: config.DATABASE_CONNECT_TIMEOUT_MS,
});

/** Database name and a URL to the server's maintenance database, to create the former when missing. */
export function splitDatabaseUrl(databaseUrl: string): { name: string; adminUrl: string } {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
  url.pathname = '/postgres';
  return { name, adminUrl: url.toString() };
}

export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const { name, adminUrl } = splitDatabaseUrl(databaseUrl);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } catch (err) {
      // Two processes racing to create it: the loser sees duplicate_database, which is success.
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Runs a short transaction again on a deadlock (40P01) or serialization failure (40001), a few times with a
 * small backoff: Postgres picks a victim under contention, and the loser's work is safe to redo.
 */
export async function retryOnConflict<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= attempts || (code !== '40P01' && code !== '40001')) throw err;
      await new Promise((r) => setTimeout(r, 10 * attempt));
    }
  }
}

/** `s` as literal text inside a LIKE/ILIKE pattern: `\`, `%` and `_` escaped (Postgres' default escape is `\`). */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);
