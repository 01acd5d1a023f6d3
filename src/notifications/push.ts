import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';

/**
 * Live pushes over Redis pub/sub, so an event published by any process reaches the SSE clients of every API
 * replica. Each API process keeps ONE subscriber connection (per main Redis client), shared by all its SSE
 * clients: channels are subscribed when their first local client arrives and unsubscribed when the last one
 * leaves, so Redis sees one subscription per channel and process however many browsers are watching.
 */

export const userNotificationsChannel = (userId: string) => `pledgeflow:user:${userId}:notifications`;

/** A notification as pushed and listed (GET /v1/me/notifications). */
export interface NotificationJson {
  id: string;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: string;
  read_at: string | null;
}

export type ChannelListener = (message: string) => void;

interface Channel {
  listeners: Set<ChannelListener>;
  /** Settles when Redis has confirmed the SUBSCRIBE, after which no published message can be missed. */
  ready: Promise<void>;
}

export class PushHub {
  private subscriber: RedisClient | undefined;
  private readonly channels = new Map<string, Channel>();
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  constructor(
    private readonly redis: RedisClient,
    private readonly logger?: Logger,
  ) {
    // Closing the process's (or a test's) main client closes the subscriber too, so nothing keeps the event
    // loop alive after shutdown.
    redis.once('end', () => this.close());
  }

  /**
   * Adds a listener to `channel`; resolves once the subscription is active. The returned function removes
   * it (idempotent) and drops the Redis subscription with the channel's last listener.
   */
  async subscribe(channel: string, listener: ChannelListener): Promise<() => void> {
    if (this.closed) throw new Error('push hub is closed');
    const sub = this.connection();
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), ready: sub.subscribe(channel).then(() => undefined) };
      this.channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    let removed = false;
    const unsubscribe = () => {
      if (removed) return;
      removed = true;
      const current = this.channels.get(channel);
      if (!current) return;
      current.listeners.delete(listener);
      if (current.listeners.size === 0) {
        this.channels.delete(channel);
        // Commands on one connection run in order, so a SUBSCRIBE issued after this one by a newcomer wins.
        if (!this.closed) sub.unsubscribe(channel).catch((err: unknown) => this.logger?.warn({ err, channel }, 'redis unsubscribe failed'));
      }
    };
    try {
      await entry.ready;
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  /** Channels with at least one local listener (for tests and diagnostics). */
  activeChannels(): string[] {
    return [...this.channels.keys()];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private connection(): RedisClient {
    if (!this.subscriber) {
      const sub = this.redis.duplicate();
      sub.on('error', (err: unknown) => this.logger?.warn({ err }, 'redis subscriber connection error'));
      sub.on('message', (channel: string, message: string) => {
        const entry = this.channels.get(channel);
        if (!entry) return;
        for (const listener of [...entry.listeners]) {
          try {
            listener(message);
          } catch (err) {
            this.logger?.warn({ err, channel }, 'push listener failed');
          }
        }
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }
}

const hubs = new WeakMap<RedisClient, PushHub>();

/** The process's hub for this Redis client, created on first use (two test apps = two replicas = two hubs). */
export function pushHub(redis: RedisClient, logger?: Logger): PushHub {
  let hub = hubs.get(redis);
  if (!hub || hub.isClosed) {
    hub = new PushHub(redis, logger);
    hubs.set(redis, hub);
  }
  return hub;
}
