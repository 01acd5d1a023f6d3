import { readTestEnvironment } from '../helpers/testEnv';
import { entryEnv, lines, runEntry } from './processHelpers';

/**
 * An operator who starts the API against a dependency that is down gets one line: what is unreachable,
 * the setting that points at it, and how to fix it. No stack trace, exit code 1.
 */
describe('the API entry point with one dependency unreachable', () => {
  const reachable = () => {
    const env = readTestEnvironment();
    return { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, TEMPORAL_ADDRESS: env.temporalAddress };
  };

  it.each([
    ['postgres', 'DATABASE_URL', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/pledgeflow' }],
    ['redis', 'REDIS_URL', { REDIS_URL: 'redis://127.0.0.1:1/0' }],
    ['temporal', 'TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: '127.0.0.1:1' }],
  ])('%s: exits 1 with a single line naming %s and the fix', async (name, setting, broken) => {
    const result = await runEntry('api', entryEnv({ ...reachable(), ...broken, PORT: '0' }));
    expect(result.code).toBe(1);
    const output = lines(result.stdout + result.stderr);
    expect(output).toHaveLength(1);
    const [line] = output;
    expect(line).toMatch(new RegExp(`^Cannot reach ${name} at `));
    expect(line).toContain('ECONNREFUSED');
    expect(line).toContain(`Set ${setting} to`);
    expect(line).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
  });

  it('a missing database says to run the migrations', async () => {
    const env = reachable();
    const missing = new URL(env.DATABASE_URL);
    missing.pathname = '/pledgeflow_no_such_database';
    const result = await runEntry('api', entryEnv({ ...env, DATABASE_URL: missing.toString(), PORT: '0' }));
    expect(result.code).toBe(1);
    expect(lines(result.stdout + result.stderr)).toEqual([expect.stringMatching(/^Database missing at .*npm run migrate.*DATABASE_URL/)]);
  });

  it('a password in DATABASE_URL is never printed', async () => {
    const result = await runEntry('api', entryEnv({ ...reachable(), DATABASE_URL: 'postgres://app:hunter2secret@127.0.0.1:1/pledgeflow', PORT: '0' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('postgres://app:***@127.0.0.1:1/pledgeflow');
    expect(result.stdout + result.stderr).not.toContain('hunter2secret');
  });
});
