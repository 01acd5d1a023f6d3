import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { persistentDevSecret } from '../../src/main/bootstrap';
import { entryEnv, lines, repoRoot, runEntry } from './processHelpers';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted an invalid configuration');
}

describe('configuration is validated at start-up', () => {
  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root@localhost/pledgeflow' }],
    ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }],
    ['JWT_SECRET', { NODE_ENV: 'production' }],
    ['START_WORKER', { START_WORKER: 'sometimes' }],
    ['IDEMPOTENCY_KEY_TTL_HOURS', { IDEMPOTENCY_KEY_TTL_HOURS: '1' }],
  ])('rejects a bad %s (%j) with a message naming it', (setting, env) => {
    const err = configError(env);
    expect(err.problems).toEqual([expect.stringMatching(new RegExp(`^${setting}: `))]);
    expect(err.message).toContain(setting);
    expect(err.message).toContain('.env.example');
  });

  it('lists every bad setting at once', () => {
    const err = configError({ PORT: 'x', REDIS_URL: 'nope', DATABASE_POOL_MAX: '0' });
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_POOL_MAX', 'PORT', 'REDIS_URL']);
  });

  it('the API entry point prints the configuration error without a stack trace and exits 1', async () => {
    const result = await runEntry('api', entryEnv({ PORT: 'eighty', REDIS_URL: 'http://x' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PORT: ');
    expect(result.stderr).toContain('REDIS_URL: ');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).toBe('');
  });
});

describe('.env.example', () => {
  const example = fs.readFileSync(path.join(repoRoot, '.env.example'), 'utf8');

  it('documents every setting src/config.ts reads', () => {
    const source = fs.readFileSync(path.join(repoRoot, 'src', 'config.ts'), 'utf8');
    const schema = source.slice(source.indexOf('const schema = z.object({'), source.indexOf('});', source.indexOf('const schema')));
    const settings = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(settings.length).toBeGreaterThan(20);
    const documented = new Set([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(settings.filter((s) => !documented.has(s!))).toEqual([]);
  });

  it('holds only valid values: its uncommented settings load as they are', () => {
    const env = Object.fromEntries(
      lines(example)
        .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(env).length).toBeGreaterThan(10);
    expect(() => loadConfig(env)).not.toThrow();
  });
});

describe('npm start keeps a development JWT secret across restarts', () => {
  it('creates it once, private to the user, and returns the same secret afterwards', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pledgeflow-secret-'));
    try {
      const first = persistentDevSecret(dir);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(fs.statSync(path.join(dir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      expect(persistentDevSecret(dir)).toBe(first);
      // The config accepts it as a JWT_SECRET.
      expect(loadConfig({ JWT_SECRET: first }).JWT_SECRET).toBe(first);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
