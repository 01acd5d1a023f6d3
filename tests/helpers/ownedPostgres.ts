import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A PostgreSQL instance of our own (initdb + pg_ctl in a temp dir, on a free loopback port), for what must not
 * touch the shared server: tests that stop or kill Postgres, and benchmarks that need server settings the shared
 * one lacks (`shared_preload_libraries = pg_stat_statements`). initdb refuses to run as root, so as root the
 * cluster belongs to the `postgres` OS user (trust auth, user `postgres`, like the shared server).
 */
export interface OwnedPostgres {
  port: number;
  dataDir: string;
  /** A connection URL for database `db` (default `postgres`). */
  url(db?: string): string;
  /** pg_ctl start (after stop or kill), waiting until it accepts connections. */
  start(): void;
  /** pg_ctl stop: `fast` disconnects clients and shuts down cleanly; `immediate` is a crash without the kill. */
  stop(mode?: 'fast' | 'immediate'): void;
  /** SIGKILL to the postmaster: what an OOM kill or a power cut looks like to clients. */
  kill(): void;
  /** Stops the server (if running) and removes its files. */
  destroy(): void;
}

/** The directory with initdb, pg_ctl and postgres: pg_config's, else the newest under /usr/lib/postgresql. */
export function postgresBinDir(): string {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const candidates = [fromConfig.status === 0 ? fromConfig.stdout.trim() : ''];
  const lib = '/usr/lib/postgresql';
  if (fs.existsSync(lib)) {
    for (const v of fs.readdirSync(lib).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(lib, v, 'bin'));
  }
  const dir = candidates.find((d) => d && fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
  if (!dir) throw new Error('initdb/pg_ctl not found (install the postgresql server package)');
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary as the cluster's owner (the `postgres` OS user when we are root). */
function runAsOwner(bin: string, args: string[]): void {
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startOwnedPostgres(opts: { settings?: Record<string, string>; name?: string } = {}): Promise<OwnedPostgres> {
  const bin = postgresBinDir();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `pledgeflow-pg-${opts.name ?? 'owned'}-`));
  if (asRoot()) execFileSync('chown', ['postgres:postgres', dataDir]);
  // --no-sync: only initdb's own fsyncs are skipped (a throwaway cluster); the server keeps fsync on, like the shared one.
  runAsOwner(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dataDir,
    max_connections: '200',
    ...opts.settings,
  };
  fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), Object.entries(settings).map(([k, v]) => `${k} = '${v}'\n`).join(''));
  const pgCtl = path.join(bin, 'pg_ctl');
  const logFile = path.join(dataDir, 'server.log');
  let running = false;

  const instance: OwnedPostgres = {
    port,
    dataDir,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    start() {
      runAsOwner(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
      running = true;
    },
    stop(mode = 'fast') {
      if (!running) return;
      runAsOwner(pgCtl, ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    kill() {
      const pidFile = path.join(dataDir, 'postmaster.pid');
      if (!fs.existsSync(pidFile)) return;
      const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      running = false;
      // The backends notice the postmaster is gone and exit; a restart waits for the stale pid file check.
    },
    destroy() {
      try {
        instance.stop('immediate');
      } catch {
        instance.kill();
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    instance.start();
  } catch (err) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`owned PostgreSQL did not start: ${String(err)}\n${log}`);
  }
  return instance;
}
