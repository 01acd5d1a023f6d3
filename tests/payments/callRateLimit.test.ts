import { randomUUID } from 'node:crypto';
import type { PaymentGateway, PaymentIntentResult } from '../../src/payments/gateway';
import { withCallRateLimit } from '../../src/payments/rateLimitedGateway';
import { createRedis, type RedisClient } from '../../src/infra/redis';
import { readTestEnvironment } from '../helpers/testEnv';

/**
 * The provider call budget is shared through Redis: two gateways (two processes) together never exceed it.
 * The gateway behind the limiter is a stand-in that only records when it was called.
 */
function recordingGateway(calls: number[]): PaymentGateway {
  const result = async (): Promise<PaymentIntentResult> => {
    calls.push(Date.now());
    return { id: 'pi_x', status: 'succeeded', amountCents: 100, currency: 'usd', capturedCents: 100, refundedCents: 0, paymentMethod: 'pm_card_visa' };
  };
  return {
    provider: 'stripe',
    savePaymentMethod: async () => {
      calls.push(Date.now());
      return { id: 'seti_x', status: 'succeeded', customerId: 'cus_x', paymentMethod: 'pm_card_visa' };
    },
    authorize: result,
    capture: result,
    chargeOffSession: result,
    cancel: result,
    refund: async () => {
      calls.push(Date.now());
      return { id: 're_x', paymentIntentId: 'pi_x', amountCents: 100, status: 'succeeded' };
    },
    retrieve: result,
    createConnectedAccount: async () => {
      calls.push(Date.now());
      return { id: 'acct_x', status: 'ready' };
    },
    retrieveConnectedAccount: async () => {
      calls.push(Date.now());
      return { id: 'acct_x', status: 'ready' };
    },
    transfer: async () => {
      calls.push(Date.now());
      return { id: 'tr_x', status: 'paid' };
    },
  };
}

describe('payment provider call rate limit', () => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = createRedis(readTestEnvironment().redisUrl);
  });
  afterAll(() => redis.disconnect());

  it('holds two processes together to the shared calls-per-second budget, queueing instead of failing', async () => {
    const calls: number[] = [];
    const keyPrefix = `test-provider-calls:${randomUUID()}`;
    const a = withCallRateLimit(recordingGateway(calls), { redis, callsPerSecond: 10, keyPrefix });
    const b = withCallRateLimit(recordingGateway(calls), { redis, callsPerSecond: 10, keyPrefix });
    const start = Date.now();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b).chargeOffSession({ idempotencyKey: `k${i}`, customerId: 'cus_x', paymentMethod: 'pm_card_visa', amountCents: 100, currency: 'usd' }),
      ),
    );
    // All 30 calls went through (none rejected), but 10 per second means at least three windows: >= 2 s.
    expect(calls).toHaveLength(30);
    expect(Date.now() - start).toBeGreaterThanOrEqual(2_000);
    // And no window let more than the budget through: the first 10 calls are all before the 11th by a window.
    const sorted = [...calls].sort((x, y) => x - y);
    expect(sorted[10]! - sorted[0]!).toBeGreaterThanOrEqual(900);
  });

  it('passes every operation through to the provider unchanged', async () => {
    const calls: number[] = [];
    const g = withCallRateLimit(recordingGateway(calls), { redis, callsPerSecond: 100, keyPrefix: `test-provider-calls:${randomUUID()}` });
    await g.savePaymentMethod({ idempotencyKey: 'a', paymentMethod: 'pm_card_visa', customerRef: 'u' });
    await g.authorize({ idempotencyKey: 'b', paymentMethod: 'pm_card_visa', amountCents: 100, currency: 'usd' });
    await g.capture({ idempotencyKey: 'c', paymentIntentId: 'pi_x' });
    await g.cancel({ idempotencyKey: 'd', paymentIntentId: 'pi_x' });
    expect((await g.refund({ idempotencyKey: 'e', paymentIntentId: 'pi_x' })).id).toBe('re_x');
    expect((await g.retrieve('pi_x')).id).toBe('pi_x');
    expect(await g.transfer({ idempotencyKey: 'f', destinationAccountId: 'acct_x', amountCents: 100, currency: 'usd' })).toEqual({ id: 'tr_x', status: 'paid' });
    expect(calls).toHaveLength(7);
    expect(g.provider).toBe('stripe');
  });
});
