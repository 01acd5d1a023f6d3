import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../logger';

// bigint columns (money totals, counters) come back as strings by default; every amount we store fits
// in a JS safe integer (< 2^53 minor units), so parse them as numbers once, here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export type Db = Knex;

export function createDb(databaseUrl: string, poolMax = 10, logger?: Logger): Db {
  return knex({
    // knex logs with console.* by default; send it through the structured logger instead.
    log: logger && {
      warn: (m: unknown) => logger.warn({ knex: m }, 'knex warning'),
      error: (m: unknown) => logger.error({ knex: m }, 'knex error'),
      deprecate: (m: unknown) => logger.warn({ knex: m }, 'knex deprecation'),
      debug: (m: unknown) => logger.debug({ knex: m }, 'knex debug'),
    },
    client: 'pg',
    connection: { connectionString: databaseUrl, connectionTimeoutMillis: 5_000 },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}

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
