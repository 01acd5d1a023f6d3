import { loadConfig } from '../config';
import { loadDotEnv, prepareDatabase, redactUrl, runMain } from './bootstrap';

/** `npm run migrate`: creates the database when missing and applies every pending knex migration. */
runMain(async () => {
  loadDotEnv();
  const config = loadConfig(process.env);
  const { created, applied } = await prepareDatabase(config);
  const where = redactUrl(config.DATABASE_URL);
  if (created) console.log(`created database ${where}`);
  console.log(applied.length ? `applied ${applied.length} migration(s) to ${where}:\n${applied.map((n) => `  ${n}`).join('\n')}` : `${where} is up to date`);
});
