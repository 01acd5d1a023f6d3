/**
 * A Redis call given at most `ms`: the hot-stock pre-filter and the product cache are shortcuts in front of
 * Postgres, so a slow Redis must fail fast (and the caller fall back) rather than hold the request.
 */
export function redisWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis ${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
