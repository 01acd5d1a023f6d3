import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startOwnedPostgres } from '../tests/helpers/ownedPostgres';
import { benchLog, positiveInt, report, runBench } from './load';

/**
 * `npm run bench:statements -- <bench>` (e.g. `pledges`, `add-to-cart`): runs that benchmark, unchanged, against a
 * PostgreSQL of its own started with `shared_preload_libraries = pg_stat_statements` (the shared server has no
 * preload and we do not restart it), then reports what Postgres spent its time on: the top statements by total
 * execution time in the bench database, with calls, mean and rows. The whole run is counted (setup included);
 * the hot path's statements are the ones whose calls match the bench's request count.
 */

const root = path.resolve(__dirname, '..');

/** The bench's script file, read from package.json's `bench:<name>` (`... tsx bench/<file>.ts`). */
function benchFile(name: string): string {
  const scripts = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const script = scripts[`bench:${name}`];
  const file = script?.match(/tsx (bench\/\S+\.ts)/)?.[1];
  if (!file || name === 'statements') {
    const names = Object.keys(scripts).filter((s) => s.startsWith('bench:') && s !== 'bench:statements').map((s) => s.slice(6));
    throw new Error(`usage: npm run bench:statements -- <bench>, one of: ${names.join(', ')}`);
  }
  return file;
}

async function main() {
  const name = process.argv[2] ?? '';
  const file = benchFile(name);
  const top = positiveInt('BENCH_STATEMENTS_TOP', 10);
  benchLog(`starting a PostgreSQL with pg_stat_statements for bench:${name}`);
  const postgres = await startOwnedPostgres({
    name: 'statements',
    settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'top', 'pg_stat_statements.max': '5000' },
  });
  try {
    const admin = new pg.Client({ connectionString: postgres.url() });
    await admin.connect();
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const database = 'pledgeflow_bench';
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [file], {
        cwd: root,
        stdio: 'inherit',
        // The bench's own report stays on stdout; BENCH_REPORT_FILE gets this summary.
        env: { ...process.env, BENCH_DATABASE_URL: postgres.url(database), BENCH_REPORT_FILE: '' },
      });
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    const { rows } = await admin.query(
      `SELECT s.calls::bigint AS calls, round(s.total_exec_time::numeric, 1) AS total_ms, round(s.mean_exec_time::numeric, 3) AS mean_ms,
              s.rows::bigint AS rows, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 400) AS query
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1
        ORDER BY s.total_exec_time DESC
        LIMIT $2`,
      [database, top],
    );
    const totals = await admin.query(
      `SELECT coalesce(sum(s.calls), 0)::bigint AS calls, round(coalesce(sum(s.total_exec_time), 0)::numeric, 1) AS total_ms
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`,
      [database],
    );
    await admin.end();
    report(`statements:${name}`, {
      bench_exit_code: code,
      all_statements: { calls: Number(totals.rows[0].calls), total_ms: Number(totals.rows[0].total_ms) },
      top: rows.map((r) => ({ calls: Number(r.calls), total_ms: Number(r.total_ms), mean_ms: Number(r.mean_ms), rows: Number(r.rows), query: r.query })),
    });
    if (code !== 0) process.exitCode = code;
  } finally {
    postgres.destroy();
  }
}

runBench(main);
