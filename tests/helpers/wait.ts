/** What `eventually` hands back: the check's value, once it is truthy. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `check` every `intervalMs` until it returns a truthy value, and returns that value. A check that
 * throws is retried like a falsy one; when `timeoutMs` runs out, the error names `what` and the last error.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition', intervalMs = 25): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
