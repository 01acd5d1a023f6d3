import net from 'node:net';
import { Connection } from '@temporalio/client';
import type { Db } from './db';
import type { RedisClient } from './redis';

/**
 * Readiness probes for the three dependencies, and the one-line hints printed when one is unreachable at
 * start-up (an operator needs the setting and the fix, not a stack trace).
 */
export type DependencyName = 'postgres' | 'redis' | 'temporal';

export interface DependencyStatus {
  name: DependencyName;
  ok: boolean;
  error?: string;
  latency_ms: number;
}

const hints: Record<DependencyName, string> = {
  postgres:
    'Set DATABASE_URL to a reachable PostgreSQL, or start the local one: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  redis:
    'Set REDIS_URL to a reachable Redis, or start the local one: redis-server --daemonize yes --port 6379 --save ""',
  temporal:
    'Set TEMPORAL_ADDRESS to a reachable Temporal frontend, or leave it unset and use `npm start`, which runs a local dev server',
};

export function unreachableMessage(name: DependencyName, target: string, error: string): string {
  return `Cannot reach ${name} at ${target} (${error}). ${hints[name]}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return errorText(err.errors[0]);
  const e = err as { code?: string; message?: string };
  return e?.code && e.message && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : (e?.message ?? String(err));
}

async function probe(name: DependencyName, fn: () => Promise<unknown>, timeoutMs: number): Promise<DependencyStatus> {
  const start = performance.now();
  try {
    await withTimeout(fn(), timeoutMs, name);
    return { name, ok: true, latency_ms: Math.round(performance.now() - start) };
  } catch (err) {
    return { name, ok: false, error: errorText(err), latency_ms: Math.round(performance.now() - start) };
  }
}

export interface DependencyProbes {
  db: Db;
  redis: RedisClient;
  /** Returns the shared Temporal connection (connecting lazily). */
  temporal: () => Promise<Connection>;
}

export async function checkDependencies(deps: DependencyProbes, timeoutMs = 2_000): Promise<DependencyStatus[]> {
  return Promise.all([
    probe('postgres', () => deps.db.raw('select 1'), timeoutMs),
    probe('redis', () => deps.redis.ping(), timeoutMs),
    probe('temporal', async () => (await deps.temporal()).healthService.check({}), timeoutMs),
  ]);
}

/** True when something accepts TCP connections at host:port. */
export function isListening(address: string, timeoutMs = 1_000): Promise<boolean> {
  const [host, portText] = splitHostPort(address);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(portText) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return i < 0 ? [address, '7233'] : [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}
