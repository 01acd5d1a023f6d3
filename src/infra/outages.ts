/**
 * Which dependency an error says is down, if any: the one place that knows what an outage of Postgres, Redis or
 * Temporal looks like to our clients (knex/pg, ioredis, @temporalio/client). The API answers such an error with
 * 503 `dependency_unavailable` + Retry-After instead of a 500 (DESIGN.md invariant 8).
 */
import type { Dependency } from '../domain/errors';

export type { Dependency };

/** SQLSTATEs of a server that is gone, going, not yet up or out of connections. */
const POSTGRES_DOWN_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const POSTGRES_DOWN_MESSAGE = /Connection terminated|Connection ended unexpectedly|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable/i;
const REDIS_DOWN_MESSAGE = /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out/i;
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/** gRPC UNAVAILABLE: the Temporal frontend cannot be reached. */
const GRPC_UNAVAILABLE = 14;

/** Socket errors carry only an address: the ports of our own dependencies say whose it was. */
const endpoints = new Map<string, Dependency>();

/** Records a dependency's host:port (from its URL), so a bare socket error to it is recognised as its outage. */
export function noteEndpoint(dependency: Dependency, url: string, defaultPort: number): void {
  try {
    const u = new URL(url);
    endpoints.set(String(Number(u.port) || defaultPort), dependency);
  } catch {
    // Not a URL (e.g. a host:port for Temporal): the message patterns still apply.
  }
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  port?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function outageOfOne(e: ErrorLike): Dependency | undefined {
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const code = e.code;
  if (name === 'KnexTimeoutError') return 'postgres'; // no connection within acquireConnectionTimeout: down or exhausted
  if (typeof code === 'string' && (code.startsWith('08') || POSTGRES_DOWN_STATES.has(code))) return 'postgres';
  if (name === 'MaxRetriesPerRequestError' || REDIS_DOWN_MESSAGE.test(message)) return 'redis';
  if (POSTGRES_DOWN_MESSAGE.test(message)) return 'postgres';
  if (name === 'TransportError' || (code === GRPC_UNAVAILABLE && /UNAVAILABLE|connect/i.test(message))) return 'temporal';
  if (typeof code === 'string' && SOCKET_ERRORS.has(code)) return endpoints.get(String(e.port)) ?? undefined;
  return undefined;
}

/** The dependency an error (or its cause chain, or an AggregateError's parts) reports as unreachable. */
export function outageOf(err: unknown): Dependency | undefined {
  for (let e = err as ErrorLike | undefined, depth = 0; e && typeof e === 'object' && depth < 6; e = e.cause as ErrorLike | undefined, depth++) {
    const found = outageOfOne(e);
    if (found) return found;
    if (Array.isArray(e.errors)) {
      for (const part of e.errors) {
        const inner = outageOf(part);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}
