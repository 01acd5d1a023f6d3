import pg from 'pg';
import { createDb, ensureDatabase, splitDatabaseUrl } from '../../src/infra/db';
import { migrateLatest } from '../../src/infra/migrate';
import { readTestEnvironment } from '../helpers/testEnv';

/**
 * A migrated database of this test file's own, beside the run's. For tests about who releases a hold: every
 * other test file's hold-expiry sweepers release due holds of the run's shared database.
 */
export async function ownDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const runUrl = readTestEnvironment().databaseUrl;
  const { name, adminUrl } = splitDatabaseUrl(runUrl);
  const own = `${name}_${label}_${process.pid}`;
  const url = new URL(runUrl);
  url.pathname = `/${own}`;
  await ensureDatabase(url.toString());
  const migrating = createDb(url.toString(), 2);
  await migrateLatest(migrating);
  await migrating.destroy();
  return {
    url: url.toString(),
    async drop() {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${own}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
