import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import { createGroupCommit } from '../infra/keyedGroupCommit';
import { refundableCents, refundBlocked } from '../domain/payments';
import {
  PaymentRequestError,
  PaymentStateError,
  type AuthorizeInput,
  type CancelInput,
  type CaptureInput,
  type ChargeOffSessionInput,
  type ConnectedAccountInput,
  type ConnectedAccountResult,
  type PaymentGateway,
  type PaymentIntentResult,
  type PaymentIntentStatus,
  type RefundInput,
  type RefundResult,
  type SavePaymentMethodInput,
  type SetupResult,
  type TransferInput,
  type TransferResult,
} from './gateway';
import { cardBehaviour, type CardOutcome } from './testPaymentMethods';
import { checkAmount, checkIdempotencyKey, checkPaymentMethod, normaliseCurrency, requestHash } from './validation';

/**
 * A stand-in for Stripe with its state in Postgres, so development and tests need no account and no network.
 * It keeps Stripe's contract where the platform relies on it: Stripe-like ids, the test cards' behaviour,
 * one idempotency key space where a repeated key replays the first response (and a different request under
 * the same key is refused), and capture/cancel/refund rules.
 *
 * Each mutating call is one transaction that first claims its key with INSERT ... ON CONFLICT DO NOTHING:
 * concurrent callers with the same key block on the primary key until the first commits, then replay it.
 * Unlike Stripe, keys never expire here (stricter, never weaker).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export const simulatedId = (prefix: 'pi' | 'seti' | 'cus' | 're' | 'pm' | 'acct' | 'tr') => `${prefix}_${randomToken(24)}`;

interface IntentRow {
  id: string;
  capture_method: 'manual' | 'automatic';
  off_session: boolean;
  amount_cents: number;
  currency: string;
  status: PaymentIntentStatus;
  captured_cents: number;
  refunded_cents: number;
  payment_method: string;
  customer_id: string | null;
  client_secret: string;
  failure_code: string | null;
  decline_code: string | null;
  failure_message: string | null;
}

/** A new intent waiting for its key to be claimed (insertIntentOnce). */
interface IntentClaim {
  key: string;
  operation: string;
  hash: string;
  row: IntentRow;
  result: PaymentIntentResult;
  metadata: string;
}

/** Each key's first claim, by key (a later twin must replay that one's response, never replace it). */
function firstClaims(claims: readonly IntentClaim[]): Map<string, IntentClaim> {
  const first = new Map<string, IntentClaim>();
  for (const claim of claims) if (!first.has(claim.key)) first.set(claim.key, claim);
  return first;
}

interface SetupRow {
  id: string;
  customer_id: string;
  payment_method: string;
  status: SetupResult['status'];
  client_secret: string;
  failure_code: string | null;
  decline_code: string | null;
  failure_message: string | null;
}

function intentResult(row: IntentRow): PaymentIntentResult {
  return {
    id: row.id,
    status: row.status,
    amountCents: row.amount_cents,
    currency: row.currency,
    capturedCents: row.captured_cents,
    refundedCents: row.refunded_cents,
    paymentMethod: row.payment_method,
    ...(row.customer_id ? { customerId: row.customer_id } : {}),
    ...(row.failure_code ? { failureCode: row.failure_code } : {}),
    ...(row.decline_code ? { declineCode: row.decline_code } : {}),
    ...(row.failure_message ? { failureMessage: row.failure_message } : {}),
    ...(row.status === 'requires_action' ? { nextAction: { type: 'use_stripe_sdk' as const, client_secret: row.client_secret } } : {}),
  };
}

function setupResult(row: SetupRow): SetupResult {
  return {
    id: row.id,
    status: row.status,
    customerId: row.customer_id,
    paymentMethod: row.payment_method,
    ...(row.failure_code ? { failureCode: row.failure_code } : {}),
    ...(row.decline_code ? { declineCode: row.decline_code } : {}),
    ...(row.failure_message ? { failureMessage: row.failure_message } : {}),
    ...(row.status === 'requires_action' ? { nextAction: { type: 'use_stripe_sdk' as const, client_secret: row.client_secret } } : {}),
  };
}

/** The status and failure columns an outcome produces; `offSession` turns "needs action" into Stripe's decline code. */
function outcomeColumns(outcome: CardOutcome, success: 'requires_capture' | 'succeeded', offSession: boolean) {
  switch (outcome.kind) {
    case 'ok':
      return { status: success, failure_code: null, decline_code: null, failure_message: null };
    case 'decline':
      return { status: 'failed' as const, failure_code: outcome.failureCode, decline_code: outcome.declineCode, failure_message: outcome.message };
    case 'action':
      return offSession
        ? {
            status: 'requires_action' as const,
            failure_code: 'authentication_required',
            decline_code: 'authentication_required',
            failure_message: 'Your card was declined. This transaction requires authentication.',
          }
        : { status: 'requires_action' as const, failure_code: null, decline_code: null, failure_message: null };
  }
}

/**
 * An account owner whose email contains this stays `pending` (onboarding to finish) until
 * simulateAccountOnboarded; every other simulated account is ready at once, as a provider who finished.
 */
export const PENDING_PAYOUT_EMAIL_MARKER = 'payout-pending';

/**
 * An account owner whose email contains this gets an account that refuses transfers (`account_closed`), like a
 * test card that declines, until simulateTransferFailure(id, null); the marker works with the pending one too.
 */
export const FAILING_TRANSFERS_EMAIL_MARKER = 'payout-fails';
export const SIMULATED_TRANSFER_FAILURE = 'account_closed';

interface ConnectedAccountRow {
  id: string;
  status: ConnectedAccountResult['status'];
}

/** The simulated hosted onboarding page: nothing serves it; tests finish it with simulateAccountOnboarded. */
const simulatedOnboardingUrl = (id: string, returnUrl: string) => `https://connect.simulated.invalid/onboarding/${id}?return_url=${encodeURIComponent(returnUrl)}`;

const noSuchPaymentIntent = (id: string) => new PaymentRequestError(`No such payment_intent: '${id}'.`, 'resource_missing');

export class SimulatedGateway implements PaymentGateway {
  readonly provider = 'simulated' as const;

  constructor(private readonly db: Db) {}

  async savePaymentMethod(input: SavePaymentMethodInput): Promise<SetupResult> {
    checkPaymentMethod(input.paymentMethod);
    const params = { paymentMethod: input.paymentMethod, customerRef: input.customerRef, email: input.email, metadata: input.metadata };
    return this.idempotent(input.idempotencyKey, 'setup_intent.create', params, async (trx) => {
      const customerId = await this.findOrCreateCustomer(trx, input.customerRef, input.email);
      const id = simulatedId('seti');
      const outcome = outcomeColumns(cardBehaviour(input.paymentMethod).setup, 'succeeded', false);
      const row: SetupRow = {
        id,
        customer_id: customerId,
        payment_method: input.paymentMethod,
        client_secret: `${id}_secret_${randomToken(24)}`,
        ...outcome,
        status: outcome.status as SetupRow['status'],
      };
      await trx('sim_setup_intents').insert(row);
      return setupResult(row);
    });
  }

  async authorize(input: AuthorizeInput): Promise<PaymentIntentResult> {
    const currency = this.checkMoney(input.amountCents, input.currency);
    checkPaymentMethod(input.paymentMethod);
    const params = { ...input, currency, idempotencyKey: undefined };
    const fields = {
      capture_method: 'manual' as const,
      off_session: false,
      amount_cents: input.amountCents,
      currency,
      payment_method: input.paymentMethod,
      customer_id: input.customerId ?? null,
      metadata: input.metadata,
      ...outcomeColumns(cardBehaviour(input.paymentMethod).onSession, 'requires_capture', false),
    };
    if (!input.customerId) return this.insertIntentOnce(input.idempotencyKey, 'payment_intent.authorize', params, fields);
    return this.idempotent(input.idempotencyKey, 'payment_intent.authorize', params, async (trx) => {
      await this.mustFindCustomer(trx, input.customerId!);
      return this.insertIntent(trx, input.idempotencyKey, fields);
    });
  }

  async chargeOffSession(input: ChargeOffSessionInput): Promise<PaymentIntentResult> {
    const currency = this.checkMoney(input.amountCents, input.currency);
    checkPaymentMethod(input.paymentMethod);
    const params = { ...input, currency, idempotencyKey: undefined };
    return this.idempotent(input.idempotencyKey, 'payment_intent.charge_off_session', params, async (trx) => {
      await this.mustFindCustomer(trx, input.customerId);
      // Stripe only charges a customer absent with a card saved to that customer.
      const saved = await trx('sim_setup_intents')
        .where({ customer_id: input.customerId, payment_method: input.paymentMethod, status: 'succeeded' })
        .first('id');
      if (!saved) {
        throw new PaymentRequestError(
          `The payment method ${input.paymentMethod} is not saved to customer ${input.customerId}; save it first (savePaymentMethod).`,
          'payment_method_not_attached',
        );
      }
      const outcome = outcomeColumns(cardBehaviour(input.paymentMethod).offSession, 'succeeded', true);
      return this.insertIntent(trx, input.idempotencyKey, {
        capture_method: 'automatic',
        off_session: true,
        amount_cents: input.amountCents,
        currency,
        payment_method: input.paymentMethod,
        customer_id: input.customerId,
        metadata: input.metadata,
        ...outcome,
        captured_cents: outcome.status === 'succeeded' ? input.amountCents : 0,
      });
    });
  }

  async capture(input: CaptureInput): Promise<PaymentIntentResult> {
    if (input.amountCents !== undefined) checkAmount(input.amountCents, 'amount to capture');
    const params = { paymentIntentId: input.paymentIntentId, amountCents: input.amountCents };
    return this.idempotent(input.idempotencyKey, 'payment_intent.capture', params, async (trx) => {
      const pi = await this.lockIntent(trx, input.paymentIntentId);
      if (pi.status !== 'requires_capture') {
        throw new PaymentStateError(
          `This PaymentIntent could not be captured because it has a status of ${pi.status}; only requires_capture can be captured.`,
          pi.id,
          pi.status,
        );
      }
      const amount = input.amountCents ?? pi.amount_cents;
      if (amount > pi.amount_cents) {
        throw new PaymentRequestError(`Cannot capture ${amount}: only ${pi.amount_cents} was authorized.`, 'amount_too_large');
      }
      // As with Stripe, capturing less than authorized releases the rest of the hold.
      return this.updateIntent(trx, pi.id, { status: 'succeeded', captured_cents: amount });
    });
  }

  async cancel(input: CancelInput): Promise<PaymentIntentResult> {
    const params = { paymentIntentId: input.paymentIntentId };
    return this.idempotent(input.idempotencyKey, 'payment_intent.cancel', params, async (trx) => {
      const pi = await this.lockIntent(trx, input.paymentIntentId);
      // Voiding twice is harmless, so compensations may run more than once.
      if (pi.status === 'canceled') return intentResult(pi);
      if (pi.status === 'succeeded') {
        throw new PaymentStateError(
          'This PaymentIntent could not be canceled because it has a status of succeeded; refund it instead.',
          pi.id,
          pi.status,
        );
      }
      return this.updateIntent(trx, pi.id, { status: 'canceled' });
    });
  }

  async refund(input: RefundInput): Promise<RefundResult> {
    if (input.amountCents !== undefined) checkAmount(input.amountCents, 'refund amount');
    const params = { paymentIntentId: input.paymentIntentId, amountCents: input.amountCents };
    return this.idempotent(input.idempotencyKey, 'refund.create', params, async (trx) => {
      const pi = await this.lockIntent(trx, input.paymentIntentId);
      if (pi.status !== 'succeeded') {
        throw new PaymentStateError(
          `This PaymentIntent has nothing captured to refund (status ${pi.status}).`,
          pi.id,
          pi.status,
        );
      }
      const money = { capturedCents: pi.captured_cents, refundedCents: pi.refunded_cents };
      const amount = input.amountCents ?? pi.captured_cents - pi.refunded_cents;
      const blocked = refundBlocked(money, amount);
      if (blocked) {
        throw new PaymentRequestError(blocked, refundableCents(money) === 0 ? 'charge_already_refunded' : 'amount_too_large');
      }
      const refund = { id: simulatedId('re'), payment_intent_id: pi.id, amount_cents: amount, status: 'succeeded' as const };
      await trx('sim_refunds').insert(refund);
      await this.updateIntent(trx, pi.id, { refunded_cents: pi.refunded_cents + amount });
      return { id: refund.id, paymentIntentId: pi.id, amountCents: amount, status: refund.status };
    });
  }

  async retrieve(paymentIntentId: string): Promise<PaymentIntentResult> {
    const row = (await this.db('sim_payment_intents').where({ id: paymentIntentId }).first()) as IntentRow | undefined;
    if (!row) throw noSuchPaymentIntent(paymentIntentId);
    return intentResult(row);
  }

  async createConnectedAccount(input: ConnectedAccountInput): Promise<ConnectedAccountResult> {
    if (!/^[A-Z]{2}$/.test(input.country)) throw new PaymentRequestError(`Country '${input.country}' is not an ISO 3166-1 alpha-2 code.`, 'country_unsupported');
    const params = { ownerRef: input.ownerRef, email: input.email, country: input.country };
    const account = await this.idempotent(input.idempotencyKey, 'account.create', params, async (trx) => {
      const row: ConnectedAccountRow = { id: simulatedId('acct'), status: input.email.includes(PENDING_PAYOUT_EMAIL_MARKER) ? 'pending' : 'ready' };
      const refuses = input.email.includes(FAILING_TRANSFERS_EMAIL_MARKER) ? SIMULATED_TRANSFER_FAILURE : null;
      await trx('sim_connected_accounts').insert({ ...row, owner_ref: input.ownerRef, email: input.email, country: input.country, transfer_failure_code: refuses });
      return { id: row.id, status: row.status };
    });
    // The link is not part of the replayed response: like Stripe's account links, each ask gets a fresh one.
    const current = await this.retrieveConnectedAccount(account.id);
    return current.status === 'pending' ? { ...current, onboardingUrl: simulatedOnboardingUrl(current.id, input.returnUrl) } : current;
  }

  async retrieveConnectedAccount(accountId: string, opts: { onboardingLink?: { returnUrl: string; refreshUrl: string } } = {}): Promise<ConnectedAccountResult> {
    const row = (await this.db('sim_connected_accounts').where({ id: accountId }).first('id', 'status')) as ConnectedAccountRow | undefined;
    if (!row) throw new PaymentRequestError(`No such account: '${accountId}'.`, 'resource_missing');
    const link = row.status === 'pending' && opts.onboardingLink ? { onboardingUrl: simulatedOnboardingUrl(row.id, opts.onboardingLink.returnUrl) } : {};
    return { id: row.id, status: row.status, ...link };
  }

  /**
   * A transfer to a ready account is paid at once; an account that is not ready, or marked to refuse transfers,
   * fails it (an outcome, recorded under the key like any other). Same key → the first transfer.
   */
  async transfer(input: TransferInput): Promise<TransferResult> {
    const currency = this.checkMoney(input.amountCents, input.currency);
    const params = { destination: input.destinationAccountId, amountCents: input.amountCents, currency, metadata: input.metadata };
    return this.idempotent(input.idempotencyKey, 'transfer.create', params, async (trx) => {
      const account = (await trx('sim_connected_accounts').where({ id: input.destinationAccountId }).first('status', 'transfer_failure_code')) as
        | { status: ConnectedAccountResult['status']; transfer_failure_code: string | null }
        | undefined;
      if (!account) throw new PaymentRequestError(`No such destination: '${input.destinationAccountId}'.`, 'resource_missing');
      const failureCode = account.transfer_failure_code ?? (account.status === 'ready' ? null : 'account_not_ready');
      const id = simulatedId('tr');
      await trx('sim_transfers').insert({
        id,
        destination: input.destinationAccountId,
        amount_cents: input.amountCents,
        currency,
        status: failureCode ? 'failed' : 'paid',
        failure_code: failureCode,
        business_key: input.idempotencyKey,
        metadata: JSON.stringify(input.metadata ?? {}),
      });
      return failureCode
        ? { id, status: 'failed' as const, failureCode, failureMessage: `The destination account refused the transfer (${failureCode}).` }
        : { id, status: 'paid' as const };
    });
  }

  /** Test hook, not part of the port: the account refuses transfers from now on with `failureCode` (null: accepts them again). */
  async simulateTransferFailure(accountId: string, failureCode: string | null): Promise<void> {
    const changed = await this.db('sim_connected_accounts').where({ id: accountId }).update({ transfer_failure_code: failureCode, updated_at: this.db.fn.now() });
    if (changed === 0) throw new PaymentRequestError(`No such account: '${accountId}'.`, 'resource_missing');
  }

  /** Test hook, not part of the port: the account's owner finishes the hosted onboarding. */
  async simulateAccountOnboarded(accountId: string): Promise<void> {
    const changed = await this.db('sim_connected_accounts').where({ id: accountId }).update({ status: 'ready', updated_at: this.db.fn.now() });
    if (changed === 0) throw new PaymentRequestError(`No such account: '${accountId}'.`, 'resource_missing');
  }

  /**
   * Test hook, not part of the port: the customer completes (or abandons) 3-D Secure for a payment or setup
   * that requires action, as they would in the browser with Stripe.js.
   */
  async simulateCustomerAction(id: string, outcome: 'authenticated' | 'failed'): Promise<void> {
    const failed = { failure_code: 'payment_intent_authentication_failure', decline_code: null, failure_message: 'The customer failed to authenticate.' };
    const table = id.startsWith('seti_') ? 'sim_setup_intents' : 'sim_payment_intents';
    await this.db.transaction(async (trx) => {
      const row = (await trx(table).where({ id }).forUpdate().first()) as (IntentRow & SetupRow) | undefined;
      if (!row) throw new PaymentRequestError(`No such intent: '${id}'.`, 'resource_missing');
      if (row.status !== 'requires_action') throw new PaymentStateError(`${id} does not require action (status ${row.status}).`, id, row.status);
      if (outcome === 'failed') {
        await trx(table).where({ id }).update({ status: 'failed', ...failed });
        return;
      }
      const done = { failure_code: null, decline_code: null, failure_message: null };
      if (table === 'sim_setup_intents') await trx(table).where({ id }).update({ status: 'succeeded', ...done });
      else if (row.capture_method === 'manual') await trx(table).where({ id }).update({ status: 'requires_capture', ...done });
      else await trx(table).where({ id }).update({ status: 'succeeded', captured_cents: row.amount_cents, ...done });
    });
  }

  private async idempotent<T>(key: string, operation: string, params: unknown, run: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    checkIdempotencyKey(key);
    const hash = requestHash(params);
    return this.db.transaction(async (trx) => {
      const claimed = await trx.raw<{ rows: unknown[] }>(
        'INSERT INTO sim_idempotency_keys (key, operation, request_hash) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING key',
        [key, operation, hash],
      );
      if (claimed.rows.length === 0) return this.replay<T>(trx, key, operation, hash);
      const result = await run(trx);
      await trx('sim_idempotency_keys').where({ key }).update({ response: JSON.stringify(result) });
      return result;
    });
  }

  /** The first response under a key already used; the same key with another request is refused, as Stripe does. */
  private async replay<T>(q: Knex | Knex.Transaction, key: string, operation: string, hash: string): Promise<T> {
    const first = (await q('sim_idempotency_keys').where({ key }).first()) as { operation: string; request_hash: string; response: T };
    if (first.operation !== operation || first.request_hash !== hash) {
      throw new PaymentRequestError(
        `Keys for idempotent requests can only be used with the same parameters they were first used with (key '${key}' was used for ${first.operation}).`,
        'idempotency_key_reused',
      );
    }
    return first.response;
  }

  /**
   * `idempotent` + `insertIntent` as one statement, for an intent that needs nothing read first: the key is
   * claimed with its response and the intent inserted together (a pledge's hold pays per statement). The calls
   * that arrive while one statement runs share the next one (group commit: a hot campaign's holds, issue 10).
   * A key already claimed (a retry, or a concurrent caller that waited on the key's row) is replayed in a second
   * statement, since the first one's snapshot predates the row it waited for.
   */
  private async insertIntentOnce(
    key: string,
    operation: string,
    params: unknown,
    fields: Omit<IntentRow, 'id' | 'client_secret' | 'captured_cents' | 'refunded_cents'> & { metadata?: Record<string, string> },
  ): Promise<PaymentIntentResult> {
    checkIdempotencyKey(key);
    const hash = requestHash(params);
    const { metadata, ...columns } = fields;
    const id = simulatedId('pi');
    const row: IntentRow = { id, client_secret: `${id}_secret_${randomToken(24)}`, captured_cents: 0, refunded_cents: 0, ...columns };
    const claim: IntentClaim = { key, operation, hash, row, result: intentResult(row), metadata: JSON.stringify({ ...metadata, business_key: key }) };
    const outcome = await this.claimTogether('intents', claim);
    if ('failed' in outcome) throw outcome.failed;
    return outcome.inserted ? claim.result : this.replay<PaymentIntentResult>(this.db, key, operation, hash);
  }

  /** One statement for a batch of claims; a failed batch goes again one by one, so each caller gets its own answer. */
  private readonly claimTogether = createGroupCommit<IntentClaim, { inserted: boolean } | { failed: unknown }>(async (_key, batch) => {
    try {
      const inserted = await this.insertIntents(batch);
      // Only a key's first claim in the batch went into the statement; a twin replays the stored response.
      const first = firstClaims(batch);
      return batch.map((claim) => ({ inserted: first.get(claim.key) === claim && inserted.has(claim.key) }));
    } catch (err) {
      if (batch.length === 1) return [{ failed: err }];
      return Promise.all(batch.map((claim) => this.insertIntents([claim]).then((inserted) => ({ inserted: inserted.has(claim.key) }), (failed: unknown) => ({ failed }))));
    }
  });

  /** Claims the keys (each once, in key order so concurrent statements lock alike) and inserts their intents; the keys claimed. */
  private async insertIntents(claims: readonly IntentClaim[]): Promise<Set<string>> {
    const unique = [...firstClaims(claims).values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const column = <T>(pick: (claim: IntentClaim) => T): T[] => unique.map(pick);
    const { rows } = await this.db.raw<{ rows: Array<{ key: string }> }>(
      `WITH b AS (
         SELECT * FROM unnest(
           CAST(:keys AS text[]), CAST(:operations AS text[]), CAST(:hashes AS text[]), CAST(:responses AS jsonb[]), CAST(:ids AS text[]),
           CAST(:secrets AS text[]), CAST(:captureMethods AS text[]), CAST(:offSessions AS boolean[]), CAST(:amounts AS bigint[]),
           CAST(:currencies AS text[]), CAST(:statuses AS text[]), CAST(:paymentMethods AS text[]), CAST(:customerIds AS text[]),
           CAST(:failureCodes AS text[]), CAST(:declineCodes AS text[]), CAST(:failureMessages AS text[]), CAST(:metadata AS jsonb[])
         ) AS b(key, operation, request_hash, response, id, client_secret, capture_method, off_session, amount_cents, currency, status,
                payment_method, customer_id, failure_code, decline_code, failure_message, metadata)
       ), claimed AS (
         INSERT INTO sim_idempotency_keys (key, operation, request_hash, response)
         SELECT key, operation, request_hash, response FROM b
         ON CONFLICT (key) DO NOTHING RETURNING key
       ), intents AS (
         INSERT INTO sim_payment_intents (id, client_secret, captured_cents, refunded_cents, capture_method, off_session, amount_cents, currency,
                                          status, payment_method, customer_id, failure_code, decline_code, failure_message, metadata)
         SELECT b.id, b.client_secret, 0, 0, b.capture_method, b.off_session, b.amount_cents, b.currency, b.status, b.payment_method,
                b.customer_id, b.failure_code, b.decline_code, b.failure_message, b.metadata
           FROM b JOIN claimed ON claimed.key = b.key
       )
       SELECT key FROM claimed`,
      {
        keys: column((c) => c.key),
        operations: column((c) => c.operation),
        hashes: column((c) => c.hash),
        responses: column((c) => JSON.stringify(c.result)),
        ids: column((c) => c.row.id),
        secrets: column((c) => c.row.client_secret),
        captureMethods: column((c) => c.row.capture_method),
        offSessions: column((c) => c.row.off_session),
        amounts: column((c) => c.row.amount_cents),
        currencies: column((c) => c.row.currency),
        statuses: column((c) => c.row.status),
        paymentMethods: column((c) => c.row.payment_method),
        customerIds: column((c) => c.row.customer_id),
        failureCodes: column((c) => c.row.failure_code),
        declineCodes: column((c) => c.row.decline_code),
        failureMessages: column((c) => c.row.failure_message),
        metadata: column((c) => c.metadata),
      },
    );
    return new Set(rows.map((r) => r.key));
  }

  private checkMoney(amountCents: number, currency: string): string {
    checkAmount(amountCents);
    return normaliseCurrency(currency);
  }

  private async findOrCreateCustomer(trx: Knex.Transaction, customerRef: string, email?: string): Promise<string> {
    if (typeof customerRef !== 'string' || customerRef.length < 1 || customerRef.length > 255) {
      throw new PaymentRequestError('A customer reference (1-255 characters) is required.', 'invalid_customer_ref');
    }
    await trx.raw('INSERT INTO sim_customers (id, customer_ref, email) VALUES (?, ?, ?) ON CONFLICT (customer_ref) DO NOTHING', [
      simulatedId('cus'),
      customerRef,
      email ?? null,
    ]);
    const row = (await trx('sim_customers').where({ customer_ref: customerRef }).first('id')) as { id: string };
    return row.id;
  }

  private async mustFindCustomer(trx: Knex.Transaction, customerId: string): Promise<void> {
    const row = await trx('sim_customers').where({ id: customerId }).first('id');
    if (!row) throw new PaymentRequestError(`No such customer: '${customerId}'.`, 'resource_missing');
  }

  private async insertIntent(
    trx: Knex.Transaction,
    businessKey: string,
    fields: Omit<IntentRow, 'id' | 'client_secret' | 'captured_cents' | 'refunded_cents'> & {
      captured_cents?: number;
      metadata?: Record<string, string>;
    },
  ): Promise<PaymentIntentResult> {
    const id = simulatedId('pi');
    const { metadata, ...columns } = fields;
    const [row] = (await trx('sim_payment_intents')
      .insert({
        id,
        client_secret: `${id}_secret_${randomToken(24)}`,
        captured_cents: 0,
        refunded_cents: 0,
        ...columns,
        metadata: JSON.stringify({ ...metadata, business_key: businessKey }),
      })
      .returning('*')) as IntentRow[];
    return intentResult(row!);
  }

  private async lockIntent(trx: Knex.Transaction, id: string): Promise<IntentRow> {
    const row = (await trx('sim_payment_intents').where({ id }).forUpdate().first()) as IntentRow | undefined;
    if (!row) throw noSuchPaymentIntent(id);
    return row;
  }

  private async updateIntent(trx: Knex.Transaction, id: string, changes: Partial<IntentRow>): Promise<PaymentIntentResult> {
    const [row] = (await trx('sim_payment_intents')
      .where({ id })
      .update({ ...changes, updated_at: trx.fn.now() })
      .returning('*')) as IntentRow[];
    return intentResult(row!);
  }
}
