import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { resolveGoTool } from '../temporal/cli';

/**
 * Mailpit (https://mailpit.axllent.org): a local SMTP server that keeps every message it receives and shows
 * it in a web UI and an HTTP API. `npm start` sends its email there, and the tests read what was sent from
 * its API (/api/v1/messages). Found or built like the `temporal` CLI.
 */
export const MAILPIT_MODULE = 'github.com/axllent/mailpit@v1.33.1';

export interface MailpitOptions {
  smtpPort: number;
  uiPort: number;
  /** An explicit binary (MAILPIT_PATH in the tests and CI). */
  explicitPath?: string;
  /** SQLite file that keeps the mail across restarts; a temporary one when omitted. */
  database?: string;
  log?: (msg: string) => void;
}

export interface Mailpit {
  smtpUrl: string;
  /** Web UI and API root, e.g. http://127.0.0.1:8025. */
  httpUrl: string;
  process: ChildProcess;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

export async function startMailpit(opts: MailpitOptions): Promise<Mailpit> {
  const bin = await resolveGoTool({ binary: 'mailpit', module: MAILPIT_MODULE, setting: 'MAILPIT_PATH', explicitPath: opts.explicitPath, log: opts.log });
  if (!bin) throw new Error(`mailpit is not installed and Go is missing to build it (go install ${MAILPIT_MODULE})`);
  const args = [
    '--smtp', `127.0.0.1:${opts.smtpPort}`,
    '--listen', `127.0.0.1:${opts.uiPort}`,
    // Keep everything a test run or a day of development sends; no phoning home for updates.
    '--max', '100000',
    '--disable-version-check',
    '--smtp-disable-rdns',
    '--quiet',
    ...(opts.database ? ['--database', opts.database] : []),
  ];
  const child = spawn(bin.path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!((await portOpen(opts.smtpPort)) && (await portOpen(opts.uiPort)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mailpit did not start on SMTP ${opts.smtpPort} / HTTP ${opts.uiPort}: ${stderr.trim() || `exit ${child.exitCode}`}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    smtpUrl: `smtp://127.0.0.1:${opts.smtpPort}`,
    httpUrl: `http://127.0.0.1:${opts.uiPort}`,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
