import type { Request, Response } from 'express';
import type { Server } from 'node:http';
import { onServerDrain } from '../../infra/httpDrain';
import type { Logger } from '../../logger';
import { asProblem, type Problem, problems } from './problem';

/**
 * Server-Sent Events plumbing shared by the live streams: headers that keep proxies from buffering,
 * keep-alive comments so idle connections survive load balancers, event formatting, and one place that
 * runs the stream's cleanup when the client goes away (or is too slow to keep up).
 */
export interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

export interface SseStream {
  readonly closed: boolean;
  send(event: SseEvent): void;
  comment(text: string): void;
  /** Runs `fn` once when the stream closes, however it closes; at once when it already has. */
  onClose(fn: () => void): void;
  close(): void;
}

/** A client that lets this much pile up unread is dropped; it reconnects with Last-Event-ID and catches up. */
const MAX_BUFFERED_BYTES = 1_000_000;
/** How long browsers wait before reconnecting after a drop. */
const RETRY_MS = 3_000;

export function formatSseEvent({ event, id, data }: SseEvent): string {
  const clean = (s: string) => s.replace(/[\r\n]/g, ' ');
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  let out = `event: ${clean(event)}\n`;
  if (id !== undefined) out += `id: ${clean(id)}\n`;
  for (const line of payload.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** The client's Last-Event-ID header (sent by EventSource on reconnect), when present and sane. */
export function lastEventId(req: Request): string | undefined {
  const value = req.get('last-event-id');
  return value && value.length <= 200 ? value.trim() : undefined;
}

export function openSse(req: Request, res: Response, options: { keepAliveMs: number }): SseStream {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  // nginx and similar proxies would otherwise hold events back in their buffers.
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);

  const cleanups: (() => void)[] = [];
  let closed = false;

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    for (const fn of cleanups.splice(0)) {
      try {
        fn();
      } catch {
        // one failing cleanup must not keep the others from running
      }
    }
    if (!res.writableEnded) res.end();
  };

  const write = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > MAX_BUFFERED_BYTES) close();
  };

  const keepAlive = setInterval(() => write(': keep-alive\n\n'), Math.max(options.keepAliveMs, 100));
  // The server is shutting down: end the stream now (the client reconnects elsewhere with Last-Event-ID)
  // instead of holding the shutdown until its grace period runs out.
  cleanups.push(
    onServerDrain((req.socket as { server?: Server }).server, () => {
      write(': server restarting\n\n');
      close();
    }),
  );
  // The response's 'close' (not the request's, which fires once the request body is read) means the client left.
  res.on('close', close);
  res.on('error', close);

  write(`retry: ${RETRY_MS}\n\n`);
  // The client may have left while the handler was still preparing the stream; 'close' will not fire again.
  if (res.destroyed || req.socket.destroyed) close();

  return {
    get closed() {
      return closed;
    },
    send: (event) => write(formatSseEvent(event)),
    comment: (text) => write(`: ${text.replace(/[\r\n]/g, ' ')}\n\n`),
    onClose: (fn) => {
      if (closed) fn();
      else cleanups.push(fn);
    },
    close,
  };
}

/**
 * For a stream's setup (subscribing, reading a snapshot or replay): Redis trouble becomes a 503 the client
 * retries, not a 500; problems raised on purpose pass through.
 */
export function liveUpdatesUnavailable(err: unknown, log: Logger): Problem {
  const known = asProblem(err);
  if (known) return known;
  log.warn({ err }, 'live stream setup failed');
  return problems.unavailable('live_updates_unavailable', 'Live updates are temporarily unavailable; retry shortly.');
}

/**
 * Subscribes before the caller reads what it must replay, buffering live messages meanwhile, so nothing
 * falls between the replay and the live stream. `goLive` delivers the buffer, then every later message.
 */
export async function bufferedSubscription(
  subscribe: (onMessage: (message: string) => void) => Promise<() => void>,
): Promise<{ goLive(forward: (message: string) => void): void; unsubscribe: () => void }> {
  let buffered: string[] | undefined = [];
  let forward: (message: string) => void = () => undefined;
  const unsubscribe = await subscribe((message) => {
    if (buffered) buffered.push(message);
    else forward(message);
  });
  return {
    unsubscribe,
    goLive(f) {
      forward = f;
      const pending = buffered ?? [];
      buffered = undefined;
      for (const message of pending) f(message);
    },
  };
}
