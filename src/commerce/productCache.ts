import type { Counter } from 'prom-client';
import type { Metrics } from '../infra/metrics';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { redisWithin } from './redisDeadline';

/**
 * Cache-aside for product reads, one Redis key per product. Postgres stays the truth: every write to a
 * product, its variants or its inventory calls `invalidate` after committing, and any Redis failure (down,
 * slow, garbage in the key) makes the read go to Postgres instead of failing the request.
 *
 * The classic cache-aside race (a reader loads the old row, a writer commits and deletes, then the reader
 * stores the old row for a whole TTL) is closed with a per-product generation: the reader notes the
 * generation before loading, and a Lua script stores the value only if the generation is still the same;
 * `invalidate` bumps the generation and deletes the value. Writers that could not reach Redis leave at most
 * one TTL of staleness behind, which is why the TTL is short.
 *
 * Keys share the hash tag `{<product id>}` so the script's two keys live on one Redis Cluster slot.
 */

export const PRODUCT_CACHE_TTL_SECONDS = 300;
/** Outlives any read in flight, so a generation cannot vanish (and restart) under a reader. */
const GENERATION_TTL_SECONDS = 3_600;
/** A Redis slower than this is treated as down for this request: Postgres answers in milliseconds anyway. */
const REDIS_TIMEOUT_MS = 250;

export const productCacheKey = (productId: string) => `catalog:v1:product:{${productId}}`;
const generationKey = (productId: string) => `catalog:v1:product:{${productId}}:gen`;

export const PRODUCT_CACHE_REQUESTS = 'product_cache_requests_total';
/**
 * `unavailable` is kept apart from `miss` so a Redis outage does not read as a cold cache: the hit ratio is
 * hit / (hit + miss + unavailable), and a rising `unavailable` points at Redis, not at invalidation churn.
 */
export type ProductCacheResult = 'hit' | 'miss' | 'unavailable';

const SET_IF_GENERATION_UNCHANGED = `
local current = redis.call('GET', KEYS[2]) or ''
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', tonumber(ARGV[2]))
  return 1
end
return 0`;

const withTimeout = <T>(promise: Promise<T>, what: string) => redisWithin(promise, REDIS_TIMEOUT_MS, what);

export class ProductCache {
  private readonly requests: Counter<string>;

  constructor(
    private readonly redis: RedisClient,
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly ttlSeconds = PRODUCT_CACHE_TTL_SECONDS,
  ) {
    this.requests = metrics.counter(PRODUCT_CACHE_REQUESTS, 'Product reads by cache outcome: hit, miss (loaded from Postgres), unavailable (Redis failed or timed out)', ['result']);
    // Every series from the start, so a ratio over a window has both sides before the first miss.
    for (const result of ['hit', 'miss', 'unavailable'] satisfies ProductCacheResult[]) this.requests.inc({ result }, 0);
  }

  /** The cached value, else `load()` (stored for next time when found). Never throws for Redis' sake. */
  async getOrLoad<T>(productId: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    let generation: string | undefined;
    try {
      const [cached, gen] = await withTimeout(this.redis.mget(productCacheKey(productId), generationKey(productId)), 'read');
      if (cached !== null && cached !== undefined) {
        try {
          const value = JSON.parse(cached) as T;
          this.requests.inc({ result: 'hit' });
          return value;
        } catch {
          this.logger.warn({ productId }, 'unreadable product cache entry; reloading');
        }
      }
      generation = gen ?? '';
      this.requests.inc({ result: 'miss' });
    } catch (err) {
      this.requests.inc({ result: 'unavailable' });
      this.logger.warn({ err, productId }, 'product cache unavailable; reading Postgres');
    }

    const value = await load();
    // Not found is not cached: a product created a moment later must show up at once.
    if (value !== undefined && generation !== undefined) {
      try {
        await withTimeout(
          this.redis.eval(SET_IF_GENERATION_UNCHANGED, 2, productCacheKey(productId), generationKey(productId), generation, this.ttlSeconds, JSON.stringify(value)),
          'write',
        );
      } catch (err) {
        this.logger.warn({ err, productId }, 'product cache not filled');
      }
    }
    return value;
  }

  /** Call after the write has committed. Logs instead of throwing: the write itself succeeded. */
  async invalidate(productId: string): Promise<void> {
    try {
      const gen = generationKey(productId);
      await withTimeout(this.redis.multi().incr(gen).expire(gen, GENERATION_TTL_SECONDS).del(productCacheKey(productId)).exec(), 'invalidate');
    } catch (err) {
      this.logger.error({ err, productId }, `product cache not invalidated; stale for at most ${this.ttlSeconds} s`);
    }
  }
}
