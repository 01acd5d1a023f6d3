import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { createDb, type Db } from '../../src/infra/db';
import { createRedis, type RedisClient } from '../../src/infra/redis';
import { PaymentRequestError } from '../../src/payments/gateway';
import { withCallRateLimit } from '../../src/payments/rateLimitedGateway';
import { FAILING_TRANSFERS_EMAIL_MARKER, PENDING_PAYOUT_EMAIL_MARKER, SIMULATED_TRANSFER_FAILURE, SimulatedGateway } from '../../src/payments/simulatedGateway';
import { createStripeClient, STRIPE_API_VERSION, StripeGateway } from '../../src/payments/stripeGateway';
import { testConfig } from '../helpers/context';
import { readTestEnvironment } from '../helpers/testEnv';
import { recordStripeRequests } from '../helpers/stripeRequests';

/**
 * Transfers to connected accounts (a seller's payout) through the PaymentGateway port: the simulated gateway
 * (same key → same transfer, even racing; an account marked to refuse transfers fails them as an outcome), the
 * Stripe adapter's Connect transfer checked against stripe-mock (stateless: what was SENT is asserted), and the
 * rate-limited wrapper passing transfers through.
 */

const link = { returnUrl: 'http://localhost:3000/payouts?done=1', refreshUrl: 'http://localhost:3000/payouts' };
let db: Db;
let redis: RedisClient;

beforeAll(() => {
  db = createDb(testConfig().DATABASE_URL, 5);
  redis = createRedis(readTestEnvironment().redisUrl);
});
afterAll(async () => {
  redis.disconnect();
  await db.destroy();
});

describe('simulated transfers', () => {
  const gateway = () => new SimulatedGateway(db);
  async function account(emailMarker = ''): Promise<string> {
    const created = await gateway().createConnectedAccount({
      idempotencyKey: `seller:${randomUUID()}:payout-account`,
      ownerRef: randomUUID(),
      email: `seller-${emailMarker}${randomUUID()}@example.test`,
      country: 'DE',
      ...link,
    });
    return created.id;
  }
  const transfer = (destinationAccountId: string, over: Partial<{ key: string; amountCents: number }> = {}) => ({
    idempotencyKey: over.key ?? `payout:${randomUUID()}:EUR:run-1`,
    destinationAccountId,
    amountCents: over.amountCents ?? 12_345,
    currency: 'EUR',
    metadata: { seller: 'x' },
  });

  it('pays a ready account; the same key answers the same transfer, even when racing, and moves the money once', async () => {
    const acct = await account();
    const input = transfer(acct);
    const results = await Promise.all([gateway().transfer(input), gateway().transfer(input), gateway().transfer(input)]);
    expect(results[0]).toEqual({ id: expect.stringMatching(/^tr_/), status: 'paid' });
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(await db('sim_transfers').where({ business_key: input.idempotencyKey }).select('destination', 'amount_cents', 'currency', 'status')).toEqual([
      { destination: acct, amount_cents: 12_345, currency: 'eur', status: 'paid' },
    ]);
  });

  it('fails a transfer to an account marked to refuse them, as an outcome; once unmarked, a new key pays', async () => {
    const acct = await account(FAILING_TRANSFERS_EMAIL_MARKER);
    const failed = await gateway().transfer(transfer(acct));
    expect(failed).toMatchObject({ id: expect.stringMatching(/^tr_/), status: 'failed', failureCode: SIMULATED_TRANSFER_FAILURE });
    await gateway().simulateTransferFailure(acct, null);
    expect((await gateway().transfer(transfer(acct))).status).toBe('paid');
    await gateway().simulateTransferFailure(acct, 'account_frozen');
    expect(await gateway().transfer(transfer(acct))).toMatchObject({ status: 'failed', failureCode: 'account_frozen' });
  });

  it('fails a transfer to an account still pending onboarding', async () => {
    const acct = await account(PENDING_PAYOUT_EMAIL_MARKER);
    expect(await gateway().transfer(transfer(acct))).toMatchObject({ status: 'failed', failureCode: 'account_not_ready' });
  });

  it('refuses an unknown destination, a bad amount or currency, and a key reused for another transfer', async () => {
    await expect(gateway().transfer(transfer('acct_missing'))).rejects.toMatchObject({ code: 'resource_missing' });
    const acct = await account();
    await expect(gateway().transfer(transfer(acct, { amountCents: 0 }))).rejects.toBeInstanceOf(PaymentRequestError);
    await expect(gateway().transfer({ ...transfer(acct), currency: 'euro' })).rejects.toMatchObject({ code: 'invalid_currency' });
    const input = transfer(acct);
    await gateway().transfer(input);
    await expect(gateway().transfer({ ...input, amountCents: 1 })).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('passes through the rate-limited wrapper unchanged', async () => {
    const acct = await account();
    const limited = withCallRateLimit(gateway(), { redis, callsPerSecond: 50, keyPrefix: `test-transfers:${randomUUID()}` });
    const input = transfer(acct);
    const first = await limited.transfer(input);
    expect(first.status).toBe('paid');
    expect(await gateway().transfer(input)).toEqual(first);
  });
});

describe('StripeGateway transfers against stripe-mock', () => {
  function stripeGateway() {
    const stripe = createStripeClient({ secretKey: 'sk_test_pledgeflow', apiUrl: readTestEnvironment().stripeMockUrl, timeoutMs: 7000, maxNetworkRetries: 1, emitEventBodies: true });
    const sent = recordStripeRequests(stripe);
    return { stripe, gateway: new StripeGateway(stripe), sent };
  }

  it('looks for an earlier transfer in the key’s group, then creates one under the key (idempotency key, transfer group, metadata)', async () => {
    const { gateway, sent } = stripeGateway();
    const key = `payout:${randomUUID()}:EUR:run-1`;
    const result = await gateway.transfer({ idempotencyKey: key, destinationAccountId: 'acct_123', amountCents: 4_200, currency: 'EUR', metadata: { payout_id: 'p1' } });
    for (const s of sent) expect({ status: s.status, apiVersion: s.apiVersion }).toEqual({ status: 200, apiVersion: STRIPE_API_VERSION });
    expect(sent.map((s) => `${s.method} ${s.path.split('?')[0]}`)).toEqual(['GET /v1/transfers', 'POST /v1/transfers']);
    expect(Object.fromEntries(new URL(sent[0]!.path, 'http://x').searchParams)).toEqual({ destination: 'acct_123', transfer_group: key, limit: '10' });
    expect(sent[1]).toMatchObject({
      idempotencyKey: key,
      body: { amount: 4200, currency: 'eur', destination: 'acct_123', transfer_group: key, metadata: { payout_id: 'p1', business_key: key } },
    });
    expect(result).toEqual({ id: expect.stringMatching(/^tr_/), status: 'paid' });
  });

  it('answers an earlier transfer of the same key without creating another (after Stripe’s key expired)', async () => {
    const { stripe, gateway, sent } = stripeGateway();
    const key = `payout:${randomUUID()}:EUR:run-2`;
    const earlier = { id: 'tr_earlier', object: 'transfer', reversed: false, metadata: { business_key: key } } as unknown as Stripe.Transfer;
    jest.spyOn(stripe.transfers, 'list').mockResolvedValue({ data: [earlier] } as never);
    const create = jest.spyOn(stripe.transfers, 'create');
    expect(await gateway.transfer({ idempotencyKey: key, destinationAccountId: 'acct_123', amountCents: 100, currency: 'eur' })).toEqual({ id: 'tr_earlier', status: 'paid' });
    expect(create).not.toHaveBeenCalled();
    expect(sent).toEqual([]);
  });

  it('reports a transfer Stripe refuses as failed (no money moved), and an outage as an exception to retry', async () => {
    const { stripe, gateway } = stripeGateway();
    const create = jest.spyOn(stripe.transfers, 'create');
    create.mockRejectedValueOnce(
      new Stripe.errors.StripeInvalidRequestError({ type: 'invalid_request_error', code: 'account_invalid', message: 'The destination account cannot receive transfers.' }),
    );
    const input = { idempotencyKey: `payout:${randomUUID()}:EUR:run-3`, destinationAccountId: 'acct_123', amountCents: 100, currency: 'eur' };
    expect(await gateway.transfer(input)).toEqual({ id: null, status: 'failed', failureCode: 'account_invalid', failureMessage: 'The destination account cannot receive transfers.' });
    const outage = new Stripe.errors.StripeAPIError({ type: 'api_error', message: 'Stripe is down' });
    create.mockRejectedValueOnce(outage);
    await expect(gateway.transfer(input)).rejects.toBe(outage);
  });
});
