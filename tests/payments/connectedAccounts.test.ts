import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { createDb, type Db } from '../../src/infra/db';
import { createRedis, type RedisClient } from '../../src/infra/redis';
import { PaymentRequestError, type PaymentGateway } from '../../src/payments/gateway';
import { withCallRateLimit } from '../../src/payments/rateLimitedGateway';
import { PENDING_PAYOUT_EMAIL_MARKER, SimulatedGateway } from '../../src/payments/simulatedGateway';
import { createStripeClient, STRIPE_API_VERSION, StripeGateway } from '../../src/payments/stripeGateway';
import { testConfig } from '../helpers/context';
import { readTestEnvironment } from '../helpers/testEnv';
import { recordStripeRequests, type SentStripeRequest } from '../helpers/stripeRequests';

/**
 * Connected accounts (a seller's payout details) through the PaymentGateway port: the simulated gateway's
 * (state in Postgres, ready at once unless the owner's email carries the pending marker) and the Stripe
 * adapter's Connect Express calls, checked against stripe-mock (which validates requests but is stateless, so
 * what was SENT is asserted), and the rate-limited wrapper passing both through.
 */

const link = { returnUrl: 'http://localhost:3000/provider/payouts?done=1', refreshUrl: 'http://localhost:3000/provider/payouts' };
let db: Db;

beforeAll(() => {
  db = createDb(testConfig().DATABASE_URL, 5);
});
afterAll(async () => {
  await db.destroy();
});

describe('simulated connected accounts', () => {
  const gateway = () => new SimulatedGateway(db);
  const input = (over: Partial<{ email: string; key: string; country: string }> = {}) => ({
    idempotencyKey: over.key ?? `provider:${randomUUID()}:payout-account`,
    ownerRef: randomUUID(),
    email: over.email ?? `provider-${randomUUID()}@example.test`,
    country: over.country ?? 'DE',
    ...link,
  });

  it('creates an account that is ready at once; the same key answers the same account, even when racing', async () => {
    const i = input();
    const results = await Promise.all([gateway().createConnectedAccount(i), gateway().createConnectedAccount(i), gateway().createConnectedAccount(i)]);
    expect(results[0]).toEqual({ id: expect.stringMatching(/^acct_/), status: 'ready' });
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(await db('sim_connected_accounts').where({ owner_ref: i.ownerRef }).count<{ count: number }[]>('* as count')).toEqual([{ count: 1 }]);
    expect(await gateway().retrieveConnectedAccount(results[0]!.id)).toEqual({ id: results[0]!.id, status: 'ready' });
  });

  it('keeps an account pending with an onboarding url for the marked owner, until the owner finishes the hosted onboarding', async () => {
    const created = await gateway().createConnectedAccount(input({ email: `p+${PENDING_PAYOUT_EMAIL_MARKER}-${randomUUID()}@example.test` }));
    expect(created).toEqual({ id: expect.stringMatching(/^acct_/), status: 'pending', onboardingUrl: expect.stringContaining(created.id) });
    expect(await gateway().retrieveConnectedAccount(created.id)).toEqual({ id: created.id, status: 'pending' });
    expect((await gateway().retrieveConnectedAccount(created.id, { onboardingLink: link })).onboardingUrl).toMatch(/^https:\/\//);
    await gateway().simulateAccountOnboarded(created.id);
    expect(await gateway().retrieveConnectedAccount(created.id, { onboardingLink: link })).toEqual({ id: created.id, status: 'ready' });
  });

  it('refuses an unknown account, a malformed country and a key reused for another owner', async () => {
    await expect(gateway().retrieveConnectedAccount('acct_missing')).rejects.toMatchObject({ code: 'resource_missing' });
    await expect(gateway().createConnectedAccount(input({ country: 'Germany' }))).rejects.toBeInstanceOf(PaymentRequestError);
    const i = input();
    await gateway().createConnectedAccount(i);
    await expect(gateway().createConnectedAccount({ ...i, ownerRef: randomUUID() })).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });
});

describe('StripeGateway connected accounts against stripe-mock', () => {

  function stripeGateway() {
    const stripe = createStripeClient({ secretKey: 'sk_test_pledgeflow', apiUrl: readTestEnvironment().stripeMockUrl, timeoutMs: 7000, maxNetworkRetries: 1, emitEventBodies: true });
    const sent = recordStripeRequests(stripe);
    return { gateway: new StripeGateway(stripe), sent };
  }

  const accepted = (sent: SentStripeRequest[]) => {
    for (const s of sent) expect({ status: s.status, apiVersion: s.apiVersion }).toEqual({ status: expect.any(Number), apiVersion: STRIPE_API_VERSION });
    expect(sent.every((s) => s.status! >= 200 && s.status! < 300)).toBe(true);
  };

  it('createConnectedAccount: an Express account requesting transfers, under the business key, with the owner in its metadata', async () => {
    const { gateway, sent } = stripeGateway();
    const k = `provider:${randomUUID()}:payout-account`;
    const owner = randomUUID();
    const result = await gateway.createConnectedAccount({ idempotencyKey: k, ownerRef: owner, email: 'p@example.test', country: 'DE', ...link });
    accepted(sent);
    expect(sent[0]).toMatchObject({
      method: 'POST',
      path: '/v1/accounts',
      idempotencyKey: k,
      body: { type: 'express', country: 'DE', email: 'p@example.test', capabilities: { transfers: { requested: true } }, metadata: { owner_ref: owner, business_key: k } },
    });
    expect(result.id).toMatch(/^acct_/);
    // stripe-mock's fixture account has not submitted its details: pending, with a fresh account link.
    expect(result.status).toBe('pending');
    expect(sent[1]).toMatchObject({ method: 'POST', path: '/v1/account_links', body: { account: result.id, type: 'account_onboarding', return_url: link.returnUrl, refresh_url: link.refreshUrl } });
    // Not the business key: a link is single use, a replayed one would be spent (the SDK adds its own retry key).
    expect(sent[1]!.idempotencyKey).not.toContain(k);
    expect(result.onboardingUrl).toMatch(/^https?:\/\//);
  });

  it('retrieveConnectedAccount: reads the account; an onboarding link only when asked and still pending', async () => {
    const { gateway, sent } = stripeGateway();
    const read = await gateway.retrieveConnectedAccount('acct_123');
    accepted(sent);
    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /v1/accounts/acct_123']);
    expect(read.onboardingUrl).toBeUndefined();
    const asked = await gateway.retrieveConnectedAccount('acct_123', { onboardingLink: link });
    expect(asked).toEqual({ id: expect.stringMatching(/^acct_/), status: 'pending', onboardingUrl: expect.stringMatching(/^https?:\/\//) });
    expect(sent.slice(1).map((s) => `${s.method} ${s.path}`)).toEqual(['GET /v1/accounts/acct_123', 'POST /v1/account_links']);
  });

  it('maps a Stripe account to ready only once details are submitted and payouts enabled', async () => {
    const { connectedAccountStatus } = await import('../../src/payments/stripeMapping');
    const account = (fields: Partial<Stripe.Account>) => ({ id: 'acct_1', object: 'account', ...fields }) as Stripe.Account;
    expect(connectedAccountStatus(account({ details_submitted: true, payouts_enabled: true }))).toBe('ready');
    expect(connectedAccountStatus(account({ details_submitted: true, payouts_enabled: false }))).toBe('pending');
    expect(connectedAccountStatus(account({ details_submitted: false, payouts_enabled: true }))).toBe('pending');
  });
});

describe('rate-limited gateway', () => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = createRedis(readTestEnvironment().redisUrl);
  });
  afterAll(() => redis.disconnect());

  it('passes connected-account calls through to the gateway behind it', async () => {
    const limited: PaymentGateway = withCallRateLimit(new SimulatedGateway(db), { redis, callsPerSecond: 50, keyPrefix: `test-accounts-${randomUUID()}` });
    const created = await limited.createConnectedAccount({ idempotencyKey: `k:${randomUUID()}`, ownerRef: randomUUID(), email: 'x@example.test', country: 'FR', ...link });
    expect(created.status).toBe('ready');
    expect(await limited.retrieveConnectedAccount(created.id)).toEqual(created);
  });
});
