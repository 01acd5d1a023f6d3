import { loadConfig } from '../config';
import { createDb } from '../infra/db';
import { INVALIDATIONS_CHANNEL } from '../accounts/accountFacts';
import { grantOperator, listOperatorGrants, revokeOperator } from '../accounts/operators';
import { createRedis } from '../infra/redis';
import { loadDotEnv, runMain, StartupError } from './bootstrap';

/**
 * `npm run operator -- add <email> | remove <email> | list`: the way to make an operator besides a verified
 * address in OPERATOR_EMAILS. It acts on existing accounts only (the person registers first), against
 * DATABASE_URL. Running API processes hear of a change through Redis at once (within AUTH_CACHE_TTL when
 * Redis cannot be reached).
 */
const USAGE = 'usage: npm run operator -- add <email> | remove <email> | list';

runMain(async () => {
  loadDotEnv();
  const [command, email, ...rest] = process.argv.slice(2);
  if (rest.length > 0 || !command || (command === 'list') !== (email === undefined)) throw new StartupError(USAGE);
  const config = loadConfig(process.env);
  const db = createDb(config.DATABASE_URL, 1);
  try {
    switch (command) {
      case 'add': {
        const grant = await grantOperator(db, email!);
        if (!grant) throw new StartupError(`No account has the address ${email}; the person registers first.`);
        await tellApiProcesses(config.REDIS_URL, [grant.id]);
        console.log(`${grant.email} is an operator (granted ${grant.grantedAt.toISOString()})`);
        break;
      }
      case 'remove': {
        const removed = await revokeOperator(db, email!);
        if (removed.length === 0) throw new StartupError(`${email} was not made an operator by this command; nothing changed.`);
        await tellApiProcesses(config.REDIS_URL, removed);
        const listed = config.OPERATOR_EMAILS.includes(email!.toLowerCase());
        console.log(`${email} is no longer an operator by grant${listed ? ' (still listed in OPERATOR_EMAILS: an operator while verified)' : ''}`);
        break;
      }
      case 'list': {
        const grants = await listOperatorGrants(db);
        for (const g of grants) console.log(`${g.email}\tgranted ${g.grantedAt.toISOString()}\t${g.id}`);
        console.log(`${grants.length} operator(s) by grant; OPERATOR_EMAILS (verified addresses only): ${config.OPERATOR_EMAILS.join(', ') || 'none'}`);
        break;
      }
      default:
        throw new StartupError(USAGE);
    }
  } finally {
    await db.destroy();
  }
});

/** Evicts the accounts from the API processes' auth caches; a Redis that cannot be reached only delays it. */
async function tellApiProcesses(redisUrl: string, userIds: string[]): Promise<void> {
  const redis = createRedis(redisUrl);
  try {
    for (const id of userIds) await Promise.race([redis.publish(INVALIDATIONS_CHANNEL, id), new Promise((r) => setTimeout(r, 2_000))]);
  } catch (err) {
    console.warn(`could not tell the API processes through Redis (${String(err)}); they see the change within AUTH_CACHE_TTL`);
  } finally {
    redis.disconnect();
  }
}
