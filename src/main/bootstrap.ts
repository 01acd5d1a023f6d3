import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { Express } from 'express';
import pg from 'pg';
import type { AppDeps } from '../api/deps';
import { ConfigError, type Config } from '../config';
import { createDb, dbTimeouts, ensureDatabase } from '../infra/db';
import { drainServer } from '../infra/httpDrain';
import { errorText, splitHostPort, unreachableMessage, type DependencyName } from '../infra/dependencies';
import { Metrics } from '../infra/metrics';
import { migrateLatest } from '../infra/migrate';
import { createRedis } from '../infra/redis';
import { createLogger, type Logger } from '../logger';
import { createPaymentGateway } from '../payments';
import { TemporalClientProvider } from '../temporal/client';

/**
 * What every entry point (start, api, worker, migrate) shares: configuration, building the dependencies
 * once, verifying them with one-line errors, and signal handling. Kept here so the entry points differ only
 * in what they run.
 */

/** A start-up failure the operator can fix; its message is printed alone, without a stack trace. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** Runs an entry point; configuration and start-up errors print their message only and exit 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof StartupError || err instanceof ConfigError) console.error(err.message);
    else console.error(err);
    process.exit(1);
  });
}

/**
 * Settings from ./.env (a copy of .env.example), if present. Variables already in the environment win, so
 * `PORT=4000 npm start` still overrides the file.
 */
export function loadDotEnv(file = path.resolve('.env')): void {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}

/** postgres://user:secret@host/db → postgres://user:***@host/db, for messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw;
  }
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

export interface Services extends AppDeps {
  /** Closes Temporal client, Redis and Postgres connections. */
  close(): Promise<void>;
  /** The last connection error Redis reported, which says more than a failed command does. */
  lastRedisError(): string | undefined;
  /** From now on Redis connection errors are logged (before, verifyDependencies reports them in one line). */
  startupVerified(): void;
}

/** Builds every shared dependency from the configuration. Redis connects at once; Postgres and Temporal on first use. */
export function createServices(config: Config, processName: string): Services {
  const logger = createLogger(config.LOG_LEVEL, { process: processName });
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX, logger, dbTimeouts(config));
  const redis = createRedis(config.REDIS_URL);
  let redisError: string | undefined;
  let logged: string | undefined;
  let verified = false;
  // Without a listener ioredis prints every reconnect failure with a stack; one warning per distinct error
  // keeps an outage visible without flooding the log.
  redis.on('error', (err: unknown) => {
    redisError = errorText(err);
    if (verified && redisError !== logged) logger.warn({ redis: redactUrl(config.REDIS_URL), error: redisError }, 'redis connection error');
    logged = redisError;
  });
  redis.on('ready', () => {
    if (logged) logger.info('redis connection restored');
    redisError = logged = undefined;
  });
  const temporal = new TemporalClientProvider(config.TEMPORAL_ADDRESS, config.TEMPORAL_NAMESPACE);
  return {
    config,
    logger,
    db,
    redis,
    metrics: new Metrics({ process: processName }),
    temporal,
    payments: createPaymentGateway({ config, db, logger, redis }),
    lastRedisError: () => redisError,
    startupVerified: () => {
      verified = true;
    },
    close: async () => {
      await temporal.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await db.destroy();
    },
  };
}

/** Where each dependency is configured, for messages. */
function target(config: Config, name: DependencyName): string {
  if (name === 'postgres') return redactUrl(config.DATABASE_URL);
  if (name === 'redis') return redactUrl(config.REDIS_URL);
  return config.TEMPORAL_ADDRESS;
}

/** The socket-level reason a TCP connection fails ("ECONNREFUSED"), or undefined when it connects. */
function tcpFailure(address: string, timeoutMs = 2_000): Promise<string | undefined> {
  const [host, port] = splitHostPort(address);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err) => done(errorText(err)));
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Postgres through a plain client rather than the knex pool: knex prints every failed connection attempt
 * with a stack trace, which is exactly the noise a start-up check must not make.
 */
async function probePostgres(config: Config, timeoutMs: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await withTimeout(
      client.connect().then(() => client.query('select 1')),
      timeoutMs,
    );
    return undefined;
  } catch (err) {
    const error = oneLine(errorText(err));
    if ((err as { code?: string }).code === '3D000') {
      return `Database missing at ${target(config, 'postgres')} (${error}). Run \`npm run migrate\` (creates it and applies the migrations), or fix DATABASE_URL.`;
    }
    return unreachableMessage('postgres', target(config, 'postgres'), error);
  } finally {
    void client.end().catch(() => undefined);
  }
}

async function probeRedis(services: Services, timeoutMs: number): Promise<string | undefined> {
  try {
    await withTimeout(services.redis.ping(), timeoutMs);
    return undefined;
  } catch (err) {
    // A failed command only says "max retries reached"; the connection error says why.
    const error = services.lastRedisError() ?? errorText(err);
    return unreachableMessage('redis', target(services.config, 'redis'), oneLine(error));
  }
}

async function probeTemporal(services: Services, timeoutMs: number): Promise<string | undefined> {
  const { config } = services;
  try {
    const connection = await withTimeout(services.temporal.connection(), timeoutMs);
    await withTimeout(connection.healthService.check({}), timeoutMs);
  } catch (err) {
    // gRPC only says "failed to connect before the deadline"; the socket says why.
    const error = (await tcpFailure(config.TEMPORAL_ADDRESS)) ?? errorText(err);
    return unreachableMessage('temporal', target(config, 'temporal'), oneLine(error));
  }
  try {
    await verifyNamespace(services);
    return undefined;
  } catch (err) {
    return oneLine(errorText(err));
  }
}

/**
 * Checks Postgres, Redis and Temporal (and the Temporal namespace) in parallel and throws a StartupError
 * with one line per unreachable dependency, naming the setting and the fix.
 */
export async function verifyDependencies(services: Services, timeoutMs = 5_000): Promise<void> {
  const problems = await Promise.all([
    probePostgres(services.config, timeoutMs),
    probeRedis(services, timeoutMs),
    probeTemporal(services, timeoutMs),
  ]);
  const lines = problems.filter((p): p is string => !!p);
  if (lines.length) throw new StartupError(lines.join('\n'));
  services.startupVerified();
}

async function verifyNamespace(services: Services): Promise<void> {
  const { config } = services;
  const connection = await services.temporal.connection();
  try {
    await connection.workflowService.describeNamespace({ namespace: config.TEMPORAL_NAMESPACE });
  } catch (err) {
    // gRPC NOT_FOUND
    if ((err as { code?: number }).code === 5) {
      throw new Error(
        `Temporal namespace "${config.TEMPORAL_NAMESPACE}" does not exist at ${config.TEMPORAL_ADDRESS}. Set TEMPORAL_NAMESPACE to an existing one, or create it: temporal operator namespace create --namespace ${config.TEMPORAL_NAMESPACE} --address ${config.TEMPORAL_ADDRESS}`,
      );
    }
    throw err;
  }
}

/** Creates the database when missing and applies pending migrations; returns the names applied. */
export async function prepareDatabase(config: Config): Promise<{ created: boolean; applied: string[] }> {
  let created: boolean;
  try {
    created = await ensureDatabase(config.DATABASE_URL);
  } catch (err) {
    throw new StartupError(unreachableMessage('postgres', target(config, 'postgres'), oneLine(errorText(err))));
  }
  const db = createDb(config.DATABASE_URL, 2);
  try {
    return { created, applied: await migrateLatest(db) };
  } finally {
    await db.destroy();
  }
}

/** Listens on HOST:PORT; a taken port is a StartupError naming PORT. */
export function listen(app: Express, config: Config): Promise<http.Server> {
  const server = http.createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
        reject(new StartupError(`Cannot listen on ${config.HOST}:${config.PORT} (${err.code}). Set PORT (or HOST) to a free address.`));
      } else reject(err);
    });
    server.listen(config.PORT, config.HOST, () => resolve(server));
  });
}

/** Stops accepting connections and waits for in-flight requests, cutting idle keep-alive sockets at once. */
export function closeServer(server: http.Server, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    // Live streams end first; in-flight requests finish within the grace period.
    drainServer(server);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** "0.0.0.0:3000" is where we listen, not an address a browser can open. */
export function displayUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

/**
 * Runs `stop` on the first SIGINT/SIGTERM and exits with its result (0 when it completes). Ctrl-C under
 * `npm start` delivers SIGINT more than once within milliseconds (the terminal signals the whole process
 * group, and npm and tsx each forward it), so repeats within a second are the same request; a later one
 * means "stop now" for a shutdown that hangs.
 */
export function onShutdownSignal(logger: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < 1_000) return;
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    firstAt = Date.now();
    logger.info({ signal }, 'shutting down');
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

const pinoLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The Temporal SDK's log messages, written through the process's pino logger. */
class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.logger[pinoLevel[level]]({ ...meta }, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * Installs the Temporal worker runtime before anything creates it implicitly: SDK logs go through pino, and
 * the runtime leaves signals to onShutdownSignal, which closes the HTTP server before draining workers.
 */
export function installTemporalRuntime(logger: Logger): void {
  // Loaded here so the API process never loads the worker's native module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Runtime } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  Runtime.install({ logger: new PinoTemporalLogger(logger.child({ component: 'temporal-sdk' })), shutdownSignals: [] });
}

/**
 * A JWT secret kept in the data directory, so tokens issued by `npm start` survive a restart. Production sets
 * JWT_SECRET instead (loadConfig requires it there).
 */
export function persistentDevSecret(dataDir: string): string {
  const file = path.resolve(dataDir, 'jwt-secret');
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch {
    // Missing: generated below.
  }
  const secret = randomBytes(32).toString('hex');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
