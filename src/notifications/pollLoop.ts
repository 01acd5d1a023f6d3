import { errorText } from '../infra/dependencies';
import type { Logger } from '../logger';

/**
 * Runs `round` until stopped: again at once after a full round (more is probably waiting), after
 * `pollIntervalMs` when there was less, and with a growing pause (up to 30 s) after rounds that failed as a
 * whole, so an outage is neither hammered nor waited out too long. A failed round never ends the loop.
 */
export interface PollLoop {
  /** Stops polling and waits for the round in flight to finish. */
  stop(): Promise<void>;
}

const MAX_ERROR_PAUSE_MS = 30_000;

export function startPollLoop(opts: {
  round: () => Promise<number>;
  batchSize: number;
  pollIntervalMs: number;
  log: Logger;
  onRoundError?: () => void;
}): PollLoop {
  let stopped = false;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const running = (async () => {
    let consecutiveErrors = 0;
    while (!stopped) {
      let claimed = 0;
      try {
        claimed = await opts.round();
        consecutiveErrors = 0;
      } catch (err) {
        consecutiveErrors += 1;
        opts.onRoundError?.();
        opts.log.warn({ error: errorText(err), consecutiveErrors }, 'outbox round failed');
      }
      if (stopped) break;
      if (consecutiveErrors > 0) await sleep(Math.min(opts.pollIntervalMs * 2 ** Math.min(consecutiveErrors, 10), MAX_ERROR_PAUSE_MS));
      else if (claimed < opts.batchSize) await sleep(opts.pollIntervalMs);
    }
  })();

  return {
    stop: async () => {
      stopped = true;
      wake?.();
      await running;
    },
  };
}

/** Exponential backoff with ±20 % jitter, so a batch that failed together (one receiver down) spreads out. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(baseMs * 2 ** Math.min(attempts - 1, 30), maxMs);
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}
