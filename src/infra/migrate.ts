import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Db } from './db';

const directory = path.resolve(__dirname, '../../migrations');
const extension = path.extname(__filename); // .ts under tsx/jest, .js in the compiled dist/

/**
 * Names migrations without their extension, so a database migrated from the TypeScript sources (npm start,
 * tests) and later from the compiled build (npm run api, Docker) sees the same history.
 */
class MigrationFolder implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return fs
      .readdirSync(directory)
      .filter((f) => f.endsWith(extension) && !f.endsWith('.d.ts'))
      .map((f) => f.slice(0, -extension.length))
      .sort();
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(directory, name + extension)) as Knex.Migration;
  }
}

/** Runs every pending migration; returns the names applied. */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: new MigrationFolder() })) as [number, string[]];
  return applied;
}
