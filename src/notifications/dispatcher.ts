import type { ActivityDeps } from '../workers/deps';

/**
 * Delivers outbox rows (notification pushes, creator webhooks) from the worker process. OWNER: notifications
 * work (stub signature).
 */
export interface OutboxDispatcher {
  /** Stops polling and waits for an in-flight delivery to finish. */
  stop(): Promise<void>;
}

export function startOutboxDispatcher(_deps: ActivityDeps): OutboxDispatcher {
  return { stop: async () => undefined }; // STUB
}
