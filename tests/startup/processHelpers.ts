import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(__dirname, '../..');
// tsx's loader inside this very node process (`node --import <loader>`), not the tsx CLI: the CLI runs the entry
// in a second node process, so a signal to the CLI — a test's SIGKILL above all — would miss the entry itself.
const tsxLoader = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/**
 * The environment for a spawned entry point: the parent's PATH and HOME, plus only the settings given, so
 * a developer's shell (or a .env file) cannot change what a test observes.
 */
export function entryEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...settings };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout contains `text`; rejects when the process exits first or time runs out. */
  waitFor(text: string, timeoutMs: number): Promise<void>;
  exited: Promise<Finished>;
}

/**
 * Starts `src/main/<entry>.ts` under tsx, as `npm start` / `npm run api` would, from an empty working
 * directory so a developer's .env (read from the working directory) and .data/ stay out of the test.
 */
export function startEntry(entry: string, env: NodeJS.ProcessEnv): Running {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), `pledgeflow-${entry}-`));
  const child = spawn(process.execPath, ['--import', tsxLoader, path.join(repoRoot, 'src', 'main', `${entry}.ts`)], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('exit', () => fs.rmSync(cwd, { recursive: true, force: true }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<Finished>((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the pipes drain: 'exit' can fire before the last chunk is read.
      setTimeout(() => resolve({ code, signal, stdout, stderr }), 50);
    });
  });
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    waitFor: (text, timeoutMs) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const timer = setInterval(() => {
          if (stdout.includes(text)) {
            clearInterval(timer);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
            clearInterval(timer);
            reject(new Error(`"${text}" never appeared (exit ${child.exitCode}).\nstdout:\n${stdout}\nstderr:\n${stderr}`));
          }
        }, 100);
      }),
  };
}

export async function runEntry(entry: string, env: NodeJS.ProcessEnv, timeoutMs = 45_000): Promise<Finished> {
  const running = startEntry(entry, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  try {
    return await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Non-empty lines of a process's output. */
export const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/**
 * A platform worker in its own OS process (so a test can really SIGKILL it), on the test context's database,
 * Redis, Temporal and task queue. `appName` names its Postgres sessions (to see what they wait on); `settings`
 * adds or overrides environment settings. The outbox dispatcher stays off, as in every test worker.
 */
export function startWorkerProcess(
  config: { DATABASE_URL: string; REDIS_URL: string; TEMPORAL_ADDRESS: string; TASK_QUEUE: string },
  opts: { appName?: string; settings?: Record<string, string> } = {},
): Running {
  const databaseUrl = new URL(config.DATABASE_URL);
  if (opts.appName) databaseUrl.searchParams.set('application_name', opts.appName);
  return startEntry(
    'worker',
    entryEnv({
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL: config.REDIS_URL,
      TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
      TASK_QUEUE: config.TASK_QUEUE,
      LOG_LEVEL: 'warn',
      OUTBOX_DISPATCHER: 'false',
      ...opts.settings,
    }),
  );
}
