import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
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

export interface LocalMail {
  /** What email is sent through; undefined when email is off. */
  smtpUrl?: string;
  /** Where to read it, for the start-up summary. */
  shown: string;
  stop(): Promise<void>;
}

/**
 * `npm start`'s mail: SMTP_URL when set; else a Mailpit already listening on MAILPIT_SMTP_PORT; else one
 * started here, keeping its mail in `dataDir`. A Mailpit that cannot start turns email off with a line
 * saying why, rather than stopping the platform.
 */
export async function startLocalMail(
  config: { SMTP_URL?: string; MAILPIT_SMTP_PORT: number; MAILPIT_UI_PORT: number },
  dataDir: string,
  say: (msg: string) => void,
): Promise<LocalMail> {
  const none = async () => undefined;
  if (config.SMTP_URL) return { smtpUrl: config.SMTP_URL, shown: `${new URL(config.SMTP_URL).host} (SMTP_URL)`, stop: none };
  const ui = `http://localhost:${config.MAILPIT_UI_PORT}`;
  if ((await portOpen(config.MAILPIT_SMTP_PORT)) && (await portOpen(config.MAILPIT_UI_PORT))) {
    say(`reusing the Mailpit already listening on ${config.MAILPIT_SMTP_PORT}`);
    return { smtpUrl: `smtp://127.0.0.1:${config.MAILPIT_SMTP_PORT}`, shown: `${ui} (Mailpit)`, stop: none };
  }
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    const mailpit = await startMailpit({ smtpPort: config.MAILPIT_SMTP_PORT, uiPort: config.MAILPIT_UI_PORT, database: path.join(dataDir, 'mailpit.db'), log: say });
    return { smtpUrl: mailpit.smtpUrl, shown: `${ui} (Mailpit: every email sent, SMTP on ${config.MAILPIT_SMTP_PORT})`, stop: () => mailpit.stop() };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    say(`email is off: Mailpit did not start (${why}). Free ports ${config.MAILPIT_SMTP_PORT}/${config.MAILPIT_UI_PORT} or set SMTP_URL.`);
    return { shown: '(off: see above)', stop: none };
  }
}
