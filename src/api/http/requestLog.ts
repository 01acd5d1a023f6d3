import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../logger';
import type { Metrics } from '../../infra/metrics';

/**
 * Per-request bookkeeping in one middleware: the request id (X-Request-Id), `req.log`, one log line when the
 * request ends, and the HTTP metrics. It replaces pino-http, whose per-request child loggers (serializing and
 * redacting the request up front) were among the top costs of a cached product read.
 *
 * What is logged: every error (5xx: error, 4xx: warn), every request that changes something (not GET, HEAD or
 * OPTIONS) and every request slower than SLOW_REQUEST_MS, at info. A fast successful read is not logged: it
 * changed nothing and the metrics count it; at thousands a second the lines would cost more than the reads.
 */

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** A read slower than this is logged like a write, so slow reads stay visible. */
export const SLOW_REQUEST_MS = 500;
const QUIET_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const NOT_LOGGED = new Set(['/healthz', '/metrics']);

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

const BASE_LOGGER = Symbol('requestLog.logger');
const CHILD_LOGGER = Symbol('requestLog.child');
type LoggedRequest = Request & { [BASE_LOGGER]?: Logger; [CHILD_LOGGER]?: Logger };

/**
 * `req.log` as a getter on the app's request prototype, installed once: the child logger is made on first use
 * (most requests never log anything of their own), without defining a property on every request object.
 */
function installLogGetter(proto: object): void {
  if (Object.prototype.hasOwnProperty.call(proto, 'log')) return;
  Object.defineProperty(proto, 'log', {
    configurable: true,
    enumerable: false,
    get(this: LoggedRequest): Logger | undefined {
      const base = this[BASE_LOGGER];
      return base && (this[CHILD_LOGGER] ??= base.child({ reqId: this.id }));
    },
  });
}

type Observer = { inc(): void; observe(seconds: number): void };

export function requestLog(logger: Logger, metrics: Metrics) {
  // Labelled metric children per (method, route template, status): no label hashing per request. Route
  // templates, not raw URLs, keep this map (and the label cardinality) bounded.
  const observers = new Map<string, Observer>();
  const observer = (method: string, route: string, status: string): Observer => {
    const key = `${method} ${route} ${status}`;
    let o = observers.get(key);
    if (!o) {
      const labels = { method, route, status };
      const counter = metrics.httpRequests.labels(labels);
      const histogram = metrics.httpDuration.labels(labels);
      o = { inc: () => counter.inc(), observe: (s) => histogram.observe(s) };
      observers.set(key, o);
    }
    return o;
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    (req as LoggedRequest)[BASE_LOGGER] = logger;
    installLogGetter(Object.getPrototypeOf(req) as object);

    const log = (ms: number, aborted: boolean) => {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : aborted || !QUIET_METHODS.has(req.method) || ms >= SLOW_REQUEST_MS ? 'info' : undefined;
      if (!level || NOT_LOGGED.has(req.path) || !logger.isLevelEnabled(level)) return;
      req.log[level](
        { req: { id, method: req.method, url: req.originalUrl, remoteAddress: req.socket.remoteAddress }, res: { statusCode: status }, responseTime: Math.round(ms) },
        aborted ? 'request aborted' : status >= 500 ? 'request errored' : 'request completed',
      );
    };
    const finished = () => {
      res.removeListener('close', closed);
      const ms = performance.now() - started;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const o = observer(req.method, route, String(res.statusCode));
      o.inc();
      o.observe(ms / 1000);
      log(ms, false);
    };
    // The client left before the answer was complete: logged, not counted (no status was sent).
    const closed = () => {
      res.removeListener('finish', finished);
      log(performance.now() - started, true);
    };
    res.once('finish', finished);
    res.once('close', closed);
    next();
  };
}
