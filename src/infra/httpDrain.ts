import type { Server } from 'node:http';

/**
 * Graceful shutdown of long-lived responses: `server.close()` waits for every open request, and a live stream
 * (SSE) never ends by itself. Streams listen on their server for this event and end at once, telling the client
 * to reconnect (to another process); the server's shutdown emits it before it waits for in-flight requests.
 */
export const DRAIN_EVENT = 'pledgeflow:drain';

/** Calls `onDrain` when the server starts shutting down; returns the unsubscribe. */
export function onServerDrain(server: Server | undefined, onDrain: () => void): () => void {
  if (!server) return () => undefined;
  // One listener per open stream: thousands are normal, not a leak.
  server.setMaxListeners(0);
  server.once(DRAIN_EVENT, onDrain);
  return () => server.off(DRAIN_EVENT, onDrain);
}

export function drainServer(server: Server): void {
  server.emit(DRAIN_EVENT);
}
