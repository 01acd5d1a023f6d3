import Redis from 'ioredis';

export type RedisClient = Redis;

export function createRedis(url: string, opts: { lazy?: boolean } = {}): Redis {
  return new Redis(url, {
    lazyConnect: opts.lazy ?? false,
    connectTimeout: 5_000,
    // Commands fail fast while Redis is away instead of queueing forever behind a dead connection.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}
