import { invalidateProduct, PRODUCT_CACHE_REQUESTS, PRODUCT_INVALIDATIONS_CHANNEL, PRODUCT_MEMORY_REQUESTS } from '../src/commerce/productCache';
import { ratioTo, runBaseline } from './baseline';
import {
  allPass,
  benchEnvironment,
  benchLog,
  bulkUsers,
  createBenchStore,
  httpRequest,
  loadAverage,
  percentile,
  positiveInt,
  postJson,
  report,
  round,
  runBench,
  runConcurrently,
  scrapeCounter,
  Tally,
} from './harness';

/**
 * GET /v1/stores/{store}/products/{id} under concurrent load, with a warm cache and with a cold one, over HTTP.
 * Every read also fetches live stock from Postgres (stock is never cached; concurrent reads share one query), so
 * the cache saves the catalog part: the product, its variants and the store owner (in process, else in Redis).
 *   - warm: every product read once beforehand (not timed), then reads spread over all products;
 *   - cold: each read first invalidates its product (outside the timed span) as a write does: the Redis key
 *     deleted and the eviction published to every API process, and the bench waits until its own subscription
 *     has the message, so the API processes have it too; the read misses both layers, loads from Postgres and
 *     refills. Reads in flight at once are for different products (consecutive indexes over more products than
 *     the concurrency), so one cannot warm the cache for another.
 * The hit ratio of each phase comes from product_cache_requests_total on GET /metrics (summed over the API
 * processes), the in-process share from product_cache_memory_requests_total.
 *
 *   npm run bench:product-reads
 *   BENCH_READ_PRODUCTS=1000      products in the store (3 variants each)
 *   BENCH_READS=10000             reads per phase
 *   BENCH_READ_CONCURRENCY=64     requests in flight
 *   BENCH_READ_INVENTORY=false    true: ?include_inventory=true on every read
 *   BENCH_API_PROCESSES=0         0: the API in this process; N: `npm run api` with WEB_CONCURRENCY=N (the
 *                                 client stays in this process)
 *
 * First, in the same process, the bare `noop` baseline (bench/baseline.ts: a node:http server answering 200 and a
 * small JSON body) with the same client, concurrency and request count; the report puts it beside the warm phase
 * with `ratio_to_baseline` = warm requests/s ÷ baseline requests/s.
 */

const log = benchLog('product-reads');

async function main(): Promise<void> {
  const productCount = positiveInt('BENCH_READ_PRODUCTS', 1_000);
  const reads = positiveInt('BENCH_READS', 10_000);
  const concurrency = positiveInt('BENCH_READ_CONCURRENCY', 64);
  const includeInventory = process.env.BENCH_READ_INVENTORY === 'true';
  const apiProcesses = process.env.BENCH_API_PROCESSES ? Number(process.env.BENCH_API_PROCESSES) : 0;
  if (!Number.isInteger(apiProcesses) || apiProcesses < 0) throw new Error('BENCH_API_PROCESSES must be 0 (in this process) or a number of processes');
  if (productCount <= concurrency) throw new Error('BENCH_READ_PRODUCTS must exceed BENCH_READ_CONCURRENCY (a cold read must not find a key another read just filled)');

  // The bare baseline first, before the environment exists (same client, concurrency and number of requests).
  const baseline = await runBaseline('noop', { requests: reads, concurrency });
  const env = await benchEnvironment({ apiProcesses: apiProcesses || undefined });
  // The bench's own subscription to the evictions: once it has a product's message, so have the API's.
  const evictions = env.services.redis.duplicate();
  const seen = new Map<string, () => void>();
  evictions.on('message', (_channel: string, productId: string) => seen.get(productId)?.());
  await evictions.subscribe(PRODUCT_INVALIDATIONS_CHANNEL);
  const invalidate = async (productId: string) => {
    const delivered = new Promise<void>((resolve) => seen.set(productId, resolve));
    await invalidateProduct(env.services.redis, productId);
    await delivered;
    seen.delete(productId);
  };
  try {
    const { services, baseUrl } = env;
    const [merchant] = await bulkUsers(services, 1, 'merchant');
    const storeId = await createBenchStore(baseUrl, merchant!.auth, 'Bench outfitters');

    // A catalog made through the API, as a merchant would: three sizes per product, a description, images.
    const productIds: string[] = new Array(productCount);
    await runConcurrently(productCount, 16, async (i) => {
      const product = await postJson<{ id: string }>(
        `${baseUrl}/v1/stores/${storeId}/products`,
        {
          name: `Trail jacket ${i}`,
          description: 'Waterproof, breathable three-layer shell with taped seams, pit zips and an adjustable hood. '.repeat(4),
          base_price_cents: 12_900 + (i % 20) * 100,
          category: ['outerwear', 'hiking', 'rain'][i % 3],
          images: [`https://img.example.test/jacket-${i}-front.jpg`, `https://img.example.test/jacket-${i}-back.jpg`],
          variants: ['S', 'M', 'L'].map((size, j) => ({
            sku: `JKT-${i}-${size}`,
            attributes: { size, colour: 'slate' },
            price_modifier_cents: j * 500,
            inventory_count: 50 + j,
          })),
        },
        { auth: merchant!.auth },
      );
      productIds[i] = product.id;
    });
    log(`${productCount} products created; ${reads} reads per phase, ${concurrency} in flight`);

    const url = (i: number) => `${baseUrl}/v1/stores/${storeId}/products/${productIds[i % productCount]}${includeInventory ? '?include_inventory=true' : ''}`;
    const counts = () => scrapeCounter(baseUrl, PRODUCT_CACHE_REQUESTS, 'result');
    const memoryCounts = () => scrapeCounter(baseUrl, PRODUCT_MEMORY_REQUESTS, 'result');

    async function phase(name: 'warm' | 'cold') {
      const statuses = new Tally();
      const latencies: number[] = new Array(reads);
      const before = await counts();
      const memoryBefore = await memoryCounts();
      const loadBefore = loadAverage();
      let busy = 0;
      const started = performance.now();
      await runConcurrently(reads, concurrency, async (i) => {
        if (name === 'cold') await invalidate(productIds[i % productCount]!);
        const t = performance.now();
        const status = await httpRequest(url(i));
        latencies[i] = performance.now() - t;
        busy += latencies[i]!;
        statuses.add(status);
      });
      const seconds = (performance.now() - started) / 1000;
      const after = await counts();
      const memoryAfter = await memoryCounts();
      const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      const memoryDelta = (k: string) => (memoryAfter[k] ?? 0) - (memoryBefore[k] ?? 0);
      const hit = delta('hit');
      const miss = delta('miss');
      const unavailable = delta('unavailable');
      return {
        phase: name,
        reads,
        statuses: statuses.toJSON(),
        seconds: round(seconds, 2),
        // In the cold phase the invalidations sit between reads, so wall-clock req/s is a slight underestimate.
        requests_per_second: Math.round(reads / seconds),
        latency_ms: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), mean: round(busy / reads) },
        cache: { hit, miss, unavailable, hit_ratio: round(hit / Math.max(1, hit + miss + unavailable), 4), in_process: { hit: memoryDelta('hit'), miss: memoryDelta('miss'), off: memoryDelta('off') } },
        load_average_before: loadBefore,
        load_average_after: loadAverage(),
      };
    }

    // Fill every key once (not timed), then a short untimed warm-up so connection pools and JIT are ready.
    await runConcurrently(productCount, concurrency, async (i) => {
      await (await fetch(url(i))).arrayBuffer();
    });
    const warm = await phase('warm');
    log(`warm: ${warm.requests_per_second} req/s, p50 ${warm.latency_ms.p50} ms, hit ratio ${warm.cache.hit_ratio}`);
    const cold = await phase('cold');
    log(`cold: ${cold.requests_per_second} req/s, p50 ${cold.latency_ms.p50} ms, hit ratio ${cold.cache.hit_ratio}`);

    const checks = {
      every_read_200: warm.statuses['200'] === reads && cold.statuses['200'] === reads,
      warm_reads_hit: warm.cache.hit === reads,
      cold_reads_miss: cold.cache.miss === reads,
    };
    report('product-reads', {
      products: productCount,
      variants_per_product: 3,
      concurrency,
      include_inventory: includeInventory,
      api_processes: apiProcesses === 0 ? 'in the bench process' : apiProcesses,
      baseline: { kind: baseline.kind, requests: baseline.requests, concurrency: baseline.concurrency, per_second: baseline.per_second, p50_ms: baseline.p50_ms, p99_ms: baseline.p99_ms },
      ratio_to_baseline: ratioTo(baseline, warm.requests_per_second),
      phases: [warm, cold],
      checks,
      ok: allPass(checks),
    });
  } finally {
    evictions.disconnect();
    await env.close();
  }
}

runBench(main);
