import fs from 'node:fs';
import os from 'node:os';

/**
 * The benches' client side and plain helpers, with no import from src/: the load generator (`runConcurrently` +
 * `httpRequest`), figures (`percentile`, `Tally`, `round`), settings and the JSON report. bench/harness.ts
 * re-exports all of it; bench/baseline.ts uses it directly, so a baseline loads its bare server exactly as the
 * benches load the API.
 */

/** The bench database (dropped and recreated by every benchEnvironment) and Redis database (flushed by it). */
export const benchDatabaseUrl = (): string => process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/pledgeflow_bench';
export const benchRedisUrl = (): string => process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/5';

/** Runs `total` tasks with at most `concurrency` in flight; returns each task's latency in ms. */
export async function runConcurrently(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = new Array(total);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) {
        const start = performance.now();
        await task(i);
        latencies[i] = performance.now() - start;
      }
    }),
  );
  return latencies;
}

/**
 * The benches' HTTP client: one request with the global fetch (undici's keep-alive pool), the body read to the
 * end; returns the status. The baseline (bench/baseline.ts) loads its bare server with this same call under
 * runConcurrently, so a bench's figure and its baseline's differ only by what the server does.
 */
export async function httpRequest(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<number> {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * Prints the report on stdout and, when BENCH_REPORT_FILE is set, writes it there too: the Temporal CLI dev server
 * prints its banner on the same stdout, so a script reading the JSON is better served by the file.
 */
export function report(name: string, figures: Record<string, unknown>): void {
  const json = JSON.stringify({ benchmark: name, machine: machine(), at: new Date().toISOString(), ...figures }, null, 2);
  console.log(json);
  if (process.env.BENCH_REPORT_FILE) fs.writeFileSync(process.env.BENCH_REPORT_FILE, `${json}\n`);
  // A benchmark whose checks failed measured something broken: it exits 1 (after its cleanup).
  if (figures.ok === false) process.exitCode = 1;
}

/** Every check passed (the `ok` of a report). */
export const allPass = (checks: Record<string, boolean>): boolean => Object.values(checks).every(Boolean);

/** Runs a benchmark's main: an unexpected error is printed and the process exits 1. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

/** Tallies HTTP statuses (or any key) for the report. */
export class Tally {
  private readonly counts = new Map<string | number, number>();
  add(key: string | number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get(key: string | number): number {
    return this.counts.get(key) ?? 0;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/** Recent load averages, for the report: benchmarks on a shared machine must say how busy it was. */
export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

/** A positive integer setting from the environment, else `def`; anything else stops the benchmark. */
export function positiveInt(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (got '${raw}')`);
  return n;
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Progress lines on stderr, prefixed with the benchmark's name (stdout carries only the JSON report). */
export const benchLog =
  (name: string) =>
  (msg: string): void =>
    console.error(`[bench:${name}] ${msg}`);
