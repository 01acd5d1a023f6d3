import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../src/config';
import { benchProcessEnv } from './harness';

/**
 * The platform's workers in an OS process of their own (src/main/worker.ts under tsx's loader in that very node
 * process, as tests/startup/processHelpers.ts `startEntry` does, so SIGKILL reaches the worker itself), on the
 * bench's database, Redis, Temporal and task queue. The soak kills it with SIGKILL at random and starts a new one.
 */
const repoRoot = path.resolve(__dirname, '..');
const tsxLoader = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker logged "worker running" (its sweepers ensured, polling). */
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startWorker(config: Config, settings: Record<string, string>): WorkerProcess {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'pledgeflow-soak-worker-'));
  const env = benchProcessEnv(config, { OUTBOX_DISPATCHER: 'false', ...settings });
  // The cwd is empty so a developer's .env cannot change the settings above.
  const child = spawn(process.execPath, ['--import', tsxLoader, path.join(repoRoot, 'src', 'main', 'worker.ts')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      fs.rmSync(cwd, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  let seen = '';
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      if (seen === 'ready') return;
      seen = (seen + b.toString()).slice(-4096);
      if (seen.includes('"msg":"worker running"')) {
        seen = 'ready';
        resolve();
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`worker exited (${code ?? signal}) before it ran:\n${stderr.slice(-2000)}`)));
  });
  ready.catch(() => undefined); // a killed worker's readiness is nobody's concern
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-8192)));
  return { child, ready, exited };
}

export interface Chaos {
  kills: Array<{ at_seconds: number; pid: number | undefined; restart_ready_seconds?: number }>;
  /** Stops killing; resolves with the worker then running (ready). */
  stop(): Promise<WorkerProcess>;
  /** The worker process now (for a cleanup that cannot wait for it to be ready). */
  current(): WorkerProcess;
}

/**
 * Kills the worker `minSeconds`–`maxSeconds` (uniformly at random) after it started running, with SIGKILL, and
 * starts a new one at once, until stopped. Returns the bookkeeping of every kill.
 */
export function chaosLoop(first: WorkerProcess, start: () => WorkerProcess, opts: { minSeconds: number; maxSeconds: number; t0: number; log: (m: string) => void }): Chaos {
  let current = first;
  let stopped = false;
  let wake: () => void = () => undefined;
  const kills: Chaos['kills'] = [];
  const loop = (async () => {
    while (!stopped) {
      const waitMs = (opts.minSeconds + Math.random() * (opts.maxSeconds - opts.minSeconds)) * 1000;
      await Promise.race([sleep(waitMs), new Promise<void>((r) => (wake = r))]);
      if (stopped) break;
      const victim = current;
      const kill = { at_seconds: Math.round((performance.now() - opts.t0) / 100) / 10, pid: victim.child.pid } as Chaos['kills'][number];
      kills.push(kill);
      victim.child.kill('SIGKILL');
      await victim.exited;
      const restarted = performance.now();
      current = start();
      opts.log(`worker ${kill.pid} SIGKILLed at ${kill.at_seconds} s; new worker ${current.child.pid} starting`);
      // The next interval starts once the new worker runs: a worker still starting is not the one to kill.
      await current.ready.then(
        () => (kill.restart_ready_seconds = Math.round((performance.now() - restarted) / 100) / 10),
        (err: unknown) => opts.log(`new worker failed to start: ${(err as Error).message}`),
      );
    }
  })();
  return {
    kills,
    current: () => current,
    stop: async () => {
      stopped = true;
      wake();
      await loop;
      await current.ready;
      return current;
    },
  };
}

/** SIGTERM (graceful: running activities finish), SIGKILL if it has not exited within `graceMs`. */
export async function stopWorker(w: WorkerProcess, graceMs = 30_000): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  const timer = setTimeout(() => w.child.kill('SIGKILL'), graceMs);
  await w.exited;
  clearTimeout(timer);
}
