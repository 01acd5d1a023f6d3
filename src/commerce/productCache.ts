import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import type { Metrics } from '../infra/metrics';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { redisWithin } from './redisDeadline';

/**
 * Cache-aside for product reads in two layers: an in-process LRU in front of one Redis key per product.
 * Postgres stays the truth: every write to a product, its variants or its inventory calls `invalidate` after
 * committing, and any Redis failure (down, slow, garbage in the key) makes the read go to Postgres instead of
 * failing the request.
 *
 * Redis: the classic cache-aside race (a reader loads the old row, a writer commits and deletes, then the
 * reader stores the old row for a whole TTL) is closed with a per-product generation: the reader notes the
 * generation before loading, and a Lua script stores the value only if the generation is still the same;
 * `invalidate` bumps the generation, deletes the value and PUBLISHes the product id, in one MULTI. Writers that
 * could not reach Redis leave at most one TTL of staleness behind, which is why the TTL is short.
 *
 * In process: every API process SUBSCRIBEs on a connection of its own and evicts the product a message names.
 * The layer is used only while that subscription is confirmed (it is emptied when the connection drops and again
 * when it is back, since messages sent meanwhile are lost), it is filled only with what Redis served or accepted,
 * and a fill is dropped when any eviction arrived while it was being read (the same race as above, per process).
 * Its TTL bounds what a lost message can leave behind.
 *
 * Keys share the hash tag `{<product id>}` so the script's two keys live on one Redis Cluster slot.
 */

export const PRODUCT_CACHE_TTL_SECONDS = 300;
/** In-process copies live this long at most: the bound on staleness should an eviction message be lost. */
export const PRODUCT_MEMORY_TTL_MS = 10_000;
/** Catalog entries kept per process (a few KB each). */
const PRODUCT_MEMORY_MAX = 20_000;
/** Outlives any read in flight, so a generation cannot vanish (and restart) under a reader. */
const GENERATION_TTL_SECONDS = 3_600;
/** A Redis slower than this is treated as down for this request: Postgres answers in milliseconds anyway. */
const REDIS_TIMEOUT_MS = 250;

export const productCacheKey = (productId: string) => `catalog:v1:product:{${productId}}`;
const generationKey = (productId: string) => `catalog:v1:product:{${productId}}:gen`;
/** Pub/sub channel of invalidations: each message is one product id. */
export const PRODUCT_INVALIDATIONS_CHANNEL = 'catalog:v1:invalidations';

export const PRODUCT_CACHE_REQUESTS = 'product_cache_requests_total';
export const PRODUCT_MEMORY_REQUESTS = 'product_cache_memory_requests_total';
/**
 * `hit` is a read served from a cache, in process or Redis (`product_cache_memory_requests_total` splits the
 * layers); `unavailable` is kept apart from `miss` so a Redis outage does not read as a cold cache: the hit
 * ratio is hit / (hit + miss + unavailable), and a rising `unavailable` points at Redis, not at invalidation churn.
 */
export type ProductCacheResult = 'hit' | 'miss' | 'unavailable';
/** `off`: the in-process layer was not used (its subscription is not live). */
type MemoryResult = 'hit' | 'miss' | 'off';

const SET_IF_GENERATION_UNCHANGED = `
local current = redis.call('GET', KEYS[2]) or ''
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', tonumber(ARGV[2]))
  return 1
end
return 0`;

const withTimeout = <T>(promise: Promise<T>, what: string) => redisWithin(promise, REDIS_TIMEOUT_MS, what);

/**
 * A cached value and what callers derived from it (a serialized answer, say): `derived` lives and dies with
 * this version of the value, so work that depends only on it is done once per version, not once per read.
 */
export interface Cached<T> {
  readonly value: T;
  readonly derived: Map<string, unknown>;
}

/**
 * Drops a product from every layer of every process: bump its generation, delete its key and publish its id.
 * For writers (through `ProductCache.invalidate`) and for tools that must empty the cache from outside.
 */
export async function invalidateProduct(redis: RedisClient, productId: string): Promise<void> {
  const gen = generationKey(productId);
  const results = await redis.multi().incr(gen).expire(gen, GENERATION_TTL_SECONDS).del(productCacheKey(productId)).publish(PRODUCT_INVALIDATIONS_CHANNEL, productId).exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0]!;
}

export class ProductCache {
  private readonly redisResults: Record<ProductCacheResult, Counter.Internal>;
  private readonly memoryResults: Record<MemoryResult, Counter.Internal>;
  private readonly memory = new LRUCache<string, Cached<unknown>>({ max: PRODUCT_MEMORY_MAX, ttl: PRODUCT_MEMORY_TTL_MS });
  /** Counts evictions (messages and local invalidations): a fill started before one is not kept. */
  private evictions = 0;
  private subscriber: RedisClient | undefined;
  private subscribed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly options: { ttlSeconds?: number; memory?: boolean } = {},
  ) {
    const requests = metrics.counter(PRODUCT_CACHE_REQUESTS, 'Product reads by cache outcome: hit (in process or Redis), miss (loaded from Postgres), unavailable (Redis failed or timed out)', ['result']);
    const memory = metrics.counter(PRODUCT_MEMORY_REQUESTS, 'Product reads by outcome of the in-process layer: hit, miss (asked Redis), off (its invalidation subscription is not live)', ['result']);
    // Labelled children made once (no label hashing per read), and every series from the start, so a ratio
    // over a window has both sides before the first miss.
    this.redisResults = { hit: requests.labels('hit'), miss: requests.labels('miss'), unavailable: requests.labels('unavailable') };
    this.memoryResults = { hit: memory.labels('hit'), miss: memory.labels('miss'), off: memory.labels('off') };
    for (const c of [...Object.values(this.redisResults), ...Object.values(this.memoryResults)]) c.inc(0);
    if (options.memory !== false) this.subscribe();
  }

  /** The cached value, else `load()` (stored for next time when found). Never throws for Redis' sake. */
  async getOrLoad<T>(productId: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    return (await this.lookup(productId, load))?.value;
  }

  /** As `getOrLoad`, with the entry's per-version `derived` memo. */
  async lookup<T>(productId: string, load: () => Promise<T | undefined>): Promise<Cached<T> | undefined> {
    const inMemory = this.subscribed;
    if (inMemory) {
      const found = this.memory.get(productId) as Cached<T> | undefined;
      if (found) {
        this.memoryResults.hit.inc();
        this.redisResults.hit.inc();
        return found;
      }
      this.memoryResults.miss.inc();
    } else {
      this.memoryResults.off.inc();
    }
    const evictionsBefore = this.evictions;
    const keep = (value: T): Cached<T> => {
      const entry: Cached<T> = { value, derived: new Map() };
      if (inMemory && this.subscribed && this.evictions === evictionsBefore) this.memory.set(productId, entry);
      return entry;
    };

    let generation: string | undefined;
    try {
      const [cached, gen] = await withTimeout(this.redis.mget(productCacheKey(productId), generationKey(productId)), 'read');
      if (cached !== null && cached !== undefined) {
        try {
          const value = JSON.parse(cached) as T;
          this.redisResults.hit.inc();
          return keep(value);
        } catch {
          this.logger.warn({ productId }, 'unreadable product cache entry; reloading');
        }
      }
      generation = gen ?? '';
      this.redisResults.miss.inc();
    } catch (err) {
      this.redisResults.unavailable.inc();
      this.logger.warn({ err, productId }, 'product cache unavailable; reading Postgres');
    }

    const value = await load();
    // Not found is not cached: a product created a moment later must show up at once.
    if (value === undefined) return undefined;
    if (generation === undefined) return { value, derived: new Map() };
    try {
      const stored = await withTimeout(
        this.redis.eval(SET_IF_GENERATION_UNCHANGED, 2, productCacheKey(productId), generationKey(productId), generation, this.options.ttlSeconds ?? PRODUCT_CACHE_TTL_SECONDS, JSON.stringify(value)),
        'write',
      );
      // Kept in process only what Redis accepted: a refused store means a writer got in between.
      if (stored === 1) return keep(value);
    } catch (err) {
      this.logger.warn({ err, productId }, 'product cache not filled');
    }
    return { value, derived: new Map() };
  }

  /** Call after the write has committed. Logs instead of throwing: the write itself succeeded. */
  async invalidate(productId: string): Promise<void> {
    // This process at once (its own message would come back a moment later); the others through Redis.
    this.evict(productId);
    try {
      await withTimeout(invalidateProduct(this.redis, productId), 'invalidate');
    } catch (err) {
      this.logger.error({ err, productId }, `product cache not invalidated; stale for at most ${this.options.ttlSeconds ?? PRODUCT_CACHE_TTL_SECONDS} s`);
    }
  }

  private evict(productId: string): void {
    this.evictions += 1;
    this.memory.delete(productId);
  }

  private forgetAll(): void {
    this.subscribed = false;
    this.evictions += 1;
    this.memory.clear();
  }

  /**
   * The dedicated subscriber connection. It follows the main client's life: a client that is already closed
   * (or closes later) leaves the in-process layer off, so a process whose Redis is gone reads Postgres.
   */
  private subscribe(): void {
    if (this.redis.status === 'end' || this.redis.status === 'close') return;
    const sub = this.redis.duplicate({ autoResubscribe: false, lazyConnect: false });
    this.subscriber = sub;
    sub.on('error', (err: unknown) => this.logger.warn({ err }, 'product cache subscriber connection error'));
    sub.on('message', (_channel: string, productId: string) => this.evict(productId));
    sub.on('close', () => this.forgetAll());
    // Messages published while the connection was down are lost: start empty once subscribed again.
    sub.on('ready', () => {
      sub
        .subscribe(PRODUCT_INVALIDATIONS_CHANNEL)
        .then(() => {
          this.memory.clear();
          this.evictions += 1;
          this.subscribed = true;
        })
        .catch((err: unknown) => this.logger.warn({ err }, 'product cache subscription failed; reading Redis'));
    });
    this.redis.once('end', () => this.close());
  }

  /** Stops the subscription (the main client's own shutdown does it too). */
  close(): void {
    this.forgetAll();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }
}
