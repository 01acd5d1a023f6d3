import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import type { Role } from '../src/domain/roles';
import { createWorkers } from '../src/workers/worker';
import { issueToken } from '../src/accounts/tokens';
import { createApp } from '../src/api/app';
import { loadConfig, type Config } from '../src/config';
import { splitDatabaseUrl } from '../src/infra/db';
import { closeServer, createServices, listen, prepareDatabase, type Services } from '../src/main/bootstrap';
import { startDevServer, type DevServer } from '../src/temporal/devServer';
import pg from 'pg';
import { benchDatabaseUrl, benchRedisUrl } from './load';

export {
  allPass,
  benchDatabaseUrl,
  benchLog,
  benchRedisUrl,
  httpRequest,
  loadAverage,
  machine,
  percentile,
  positiveInt,
  report,
  round,
  runBench,
  runConcurrently,
  Tally,
} from './load';

/**
 * The same real parts the tests use, for benchmarks: a fresh `pledgeflow_bench` database, a flushed Redis
 * database, optionally a Temporal dev server, and the API listening on a random loopback port.
 */
export interface BenchEnvironment {
  config: Config;
  services: Services;
  baseUrl: string;
  devServer?: DevServer;
  close(): Promise<void>;
}

/**
 * `apiProcesses`: run the API as `npm run api` does, in processes of its own (WEB_CONCURRENCY = apiProcesses,
 * through src/main/api.ts, with a Temporal dev server for its start-up check) instead of inside this process; the
 * client stays here. Undefined: the API listens in this process.
 */
export async function benchEnvironment(opts: { temporal?: boolean; settings?: Record<string, string>; apiProcesses?: number } = {}): Promise<BenchEnvironment> {
  const databaseUrl = benchDatabaseUrl();
  const { name, adminUrl } = splitDatabaseUrl(databaseUrl);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();

  let devServer: DevServer | undefined;
  if (opts.temporal || opts.apiProcesses) {
    devServer = await startDevServer({ cliPath: process.env.TEMPORAL_CLI_PATH, namespace: 'default', extraArgs: (process.env.BENCH_DEV_ARGS ?? '').split(' ').filter(Boolean) });
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: '20',
    REDIS_URL: benchRedisUrl(),
    TEMPORAL_ADDRESS: devServer?.address ?? '127.0.0.1:7233',
    TASK_QUEUE: `bench-${randomUUID().slice(0, 8)}`,
    LOGIN_MAX_ATTEMPTS_PER_IP: '100000000',
    // Benches mint their tokens once, up front; a long run (settlement, soak) outlives the 15-minute default.
    TOKEN_TTL_SECONDS: '86400',
    ...opts.settings,
  });
  await prepareDatabase(config);
  const services = createServices(config, 'bench');
  await services.redis.flushdb();
  if (opts.apiProcesses) {
    const api = await startApiProcesses(config, opts.apiProcesses, opts.settings ?? {}).catch(async (err: unknown) => {
      await services.close();
      await devServer?.stop();
      throw err;
    });
    return {
      config,
      services,
      devServer,
      baseUrl: api.baseUrl,
      close: async () => {
        await api.stop();
        await services.close();
        await devServer?.stop();
      },
    };
  }
  const server: http.Server = await listen(createApp(services), { ...config, HOST: '127.0.0.1', PORT: 0 });
  const address = server.address() as { port: number };
  return {
    config,
    services,
    devServer,
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await closeServer(server, 2_000);
      await services.close();
      await devServer?.stop();
    },
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment of a platform process the bench spawns (API or worker): only the bench's own dependencies and
 * task queue, logging at info for the readiness line the bench waits for (the rest is read and dropped).
 */
export function benchProcessEnv(config: Config, settings: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: config.DATABASE_URL,
    DATABASE_POOL_MAX: String(config.DATABASE_POOL_MAX),
    REDIS_URL: config.REDIS_URL,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
    TASK_QUEUE: config.TASK_QUEUE,
    ...settings,
  };
}

/** src/main/api.ts under tsx with the bench's settings and `processes` API processes; stopped with SIGTERM. */
async function startApiProcesses(config: Config, processes: number, settings: Record<string, string>): Promise<{ baseUrl: string; stop(): Promise<void> }> {
  const repoRoot = path.resolve(__dirname, '..');
  const port = await freePort();
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'pledgeflow-bench-api-'));
  const env = benchProcessEnv(config, {
    // Tokens the bench issues (bulkUsers) must verify there.
    JWT_SECRET: config.JWT_SECRET,
    LOGIN_MAX_ATTEMPTS_PER_IP: String(config.LOGIN_MAX_ATTEMPTS_PER_IP),
    ...settings,
    // Its readiness line ("api listening") is logged at info, whatever level the bench runs at.
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    WEB_CONCURRENCY: String(processes),
  });
  const loader = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  // The cwd is empty so a developer's .env cannot change the settings above.
  const child = spawn(process.execPath, ['--import', loader, path.join(repoRoot, 'src', 'main', 'api.ts')], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind a bench that gives up.
      child.kill('SIGKILL');
      reject(new Error(`the API processes did not start within 180 s:\n${output}`));
    }, 180_000);
    child.stdout!.on('data', (b: Buffer) => {
      output += b.toString();
      if (output.includes('"msg":"api listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the API processes exited (${code}) before listening:\n${output}`));
    });
  });
  child.stdout!.resume();
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(cwd, { recursive: true, force: true });
      if (code !== 0) throw new Error(`the API processes exited with ${code} on SIGTERM`);
    },
  };
}

/** Accounts written in one statement (no password hashing): benchmarks measure pledging, not sign-up. */
export async function bulkUsers(services: Services, count: number, role: Role = 'backer'): Promise<Array<{ id: string; auth: string }>> {
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    email: `bench-${role}-${i}-${randomUUID().slice(0, 8)}@example.test`,
    name: `Bench ${role} ${i}`,
    password_hash: 'bench-account-without-password',
    role,
    base_role: role,
  }));
  for (let i = 0; i < rows.length; i += 1000) await services.db('users').insert(rows.slice(i, i + 1000));
  return rows.map((r) => ({ id: r.id, auth: `Bearer ${issueToken(services.config, r.id).token}` }));
}

/**
 * Temporal SDK warnings only (INFO logs every worker state change). Call first in main(): the runtime is created
 * once per process, by whichever of the dev server or a worker comes first.
 */
export function quietTemporalRuntime(): void {
  Runtime.install({ logger: new DefaultLogger((process.env.BENCH_TEMPORAL_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });
}

/**
 * The platform's workers (main and payments task queues) in the benchmark's process, on the bench's own task
 * queue; the workflow bundle is built first, quietly. `stop()` shuts them down and removes the bundle.
 */
export async function startBenchWorkers(services: Services, opts: { outboxDispatcher?: boolean } = {}): Promise<{ stop(): Promise<void> }> {
  const bundlePath = path.join(os.tmpdir(), `pledgeflow-bench-workflows-${process.pid}-${randomUUID().slice(0, 8)}.js`);
  const quiet = () => undefined;
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: (m: string) => console.error(m), log: quiet },
  });
  fs.writeFileSync(bundlePath, bundle.code);
  const workers = await createWorkers(services, { workflowBundlePath: bundlePath, outboxDispatcher: opts.outboxDispatcher });
  const running = workers.run();
  return {
    stop: async () => {
      workers.shutdown();
      await running;
      await workers.connection.close();
      fs.rmSync(bundlePath, { force: true });
    },
  };
}

/**
 * A counter's value per value of one label, read from GET /metrics as Prometheus would scrape it (summed over
 * any other labels, such as the process default label).
 */
export async function scrapeCounter(baseUrl: string, name: string, label: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const values: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelValue = line.match(new RegExp(`[{,]${label}="([^"]*)"`))?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (labelValue !== undefined) values[labelValue] = (values[labelValue] ?? 0) + value;
  }
  return values;
}

/** Platform settings passed through from the environment when set (the harness itself reads none). */
export function settingsFromEnv(keys: string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const key of keys) {
    const v = process.env[key];
    if (v !== undefined && v !== '') settings[key] = v;
  }
  return settings;
}

/** A store made through POST /v1/stores by its merchant, as in production. */
export async function createBenchStore(baseUrl: string, merchantAuth: string, name: string, currency = 'USD'): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/stores`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: merchantAuth },
    body: JSON.stringify({ name, slug: `bench-${randomUUID().slice(0, 8)}`, currency }),
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`store create answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** JSON request to the API; throws unless the status is the expected one. */
export async function postJson<T>(url: string, body: unknown, opts: { auth?: string; expect?: number; headers?: Record<string, string> } = {}): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.auth ? { authorization: opts.auth } : {}), ...opts.headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (res.status !== (opts.expect ?? 201)) throw new Error(`POST ${new URL(url).pathname} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** A merchant (written in bulk) with a store and one product of one variant in stock, made through the API. */
export async function benchShop(
  env: Pick<BenchEnvironment, 'services' | 'baseUrl'>,
  opts: { stock: number; priceCents?: number; name?: string },
): Promise<{ merchant: { id: string; auth: string }; storeId: string; variantId: string }> {
  const [merchant] = await bulkUsers(env.services, 1, 'merchant');
  const storeId = await createBenchStore(env.baseUrl, merchant!.auth, opts.name ?? 'Bench shop');
  const product = await postJson<{ variants: Array<{ id: string }> }>(
    `${env.baseUrl}/v1/stores/${storeId}/products`,
    { name: 'Limited sneaker', base_price_cents: opts.priceCents ?? 19_900, inventory_count: opts.stock },
    { auth: merchant!.auth },
  );
  return { merchant: merchant!, storeId, variantId: product.variants[0]!.id };
}
