import Stripe from 'stripe';
import type { Logger } from '../logger';
import {
  PaymentRequestError,
  type AuthorizeInput,
  type CancelInput,
  type CaptureInput,
  type ChargeOffSessionInput,
  type ConnectedAccountInput,
  type ConnectedAccountResult,
  type PaymentGateway,
  type PaymentIntentResult,
  type RefundInput,
  type RefundResult,
  type SavePaymentMethodInput,
  type SetupResult,
  type TransferInput,
  type TransferResult,
} from './gateway';
import { connectedAccountStatus, toIntentResult, toRefundResult, toSetupResult, toTransferResult, translateStripeError } from './stripeMapping';
import { checkAmount, checkIdempotencyKey, checkPaymentMethod, normaliseCurrency } from './validation';

/**
 * Pinned so a Stripe-side default change can never alter behaviour under us. The literal type is the SDK's
 * own: upgrading the `stripe` package fails the typecheck here until the version is bumped on purpose.
 */
export const STRIPE_API_VERSION: Stripe.LatestApiVersion = '2026-10-28.endive';

export interface StripeClientOptions {
  secretKey: string;
  /** Another API base (stripe-mock in tests); default api.stripe.com. */
  apiUrl?: string;
  timeoutMs: number;
  maxNetworkRetries: number;
  /** Tests only: a wrapped HTTP client, and request bodies in the SDK's `request` events. */
  httpClient?: Stripe.HttpClient;
  emitEventBodies?: boolean;
}

export function createStripeClient(o: StripeClientOptions): Stripe {
  const base = o.apiUrl ? new URL(o.apiUrl) : undefined;
  return new Stripe(o.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    timeout: o.timeoutMs,
    maxNetworkRetries: o.maxNetworkRetries,
    telemetry: false,
    appInfo: { name: 'pledgeflow' },
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'http:' ? 80 : 443),
          protocol: base.protocol === 'http:' ? ('http' as const) : ('https' as const),
        }
      : {}),
    ...(o.httpClient ? { httpClient: o.httpClient } : {}),
    ...(o.emitEventBodies ? { emitEventBodies: true } : {}),
  });
}

/**
 * Where the platform remembers which PaymentIntent belongs to a business key (the payments table). Stripe's
 * idempotency keys expire after 24 h; this record does not, so a retry days later still finds the intent.
 */
export interface KnownIntentLookup {
  find(businessKey: string): Promise<string | undefined>;
  /** Called as soon as the intent exists, before it is confirmed, so a crash in between cannot orphan it. */
  remember(businessKey: string, paymentIntentId: string): Promise<void>;
}

const EXPAND = ['latest_charge'];

/** Stripe search strings are single-quoted; a quote or backslash in a key must not end the string early. */
const searchString = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The Stripe adapter. Authorize and charge create a PaymentIntent unconfirmed (key `<key>:create`, metadata
 * business_key), record its id, then confirm it (key `<key>:confirm`). Before creating, it looks for an
 * earlier intent for the business key — in the platform's records, then with Stripe search — so neither a
 * retry after the provider key expired nor a lost response can produce a second charge.
 */
export class StripeGateway implements PaymentGateway {
  readonly provider = 'stripe' as const;

  constructor(
    readonly stripe: Stripe,
    private readonly opts: { knownIntents?: KnownIntentLookup; logger?: Logger } = {},
  ) {}

  async savePaymentMethod(input: SavePaymentMethodInput): Promise<SetupResult> {
    checkIdempotencyKey(input.idempotencyKey);
    checkPaymentMethod(input.paymentMethod);
    const customer = await this.findOrCreateCustomer(input.customerRef, input.email);
    try {
      const si = await this.stripe.setupIntents.create(
        {
          customer,
          payment_method: input.paymentMethod,
          allowed_payment_method_types: ['card'],
          usage: 'off_session',
          confirm: true,
          metadata: { ...input.metadata, business_key: input.idempotencyKey },
        },
        { idempotencyKey: input.idempotencyKey },
      );
      return toSetupResult(si);
    } catch (err) {
      // A declined card is an outcome: Stripe attaches the failed SetupIntent to the error.
      if (err instanceof Stripe.errors.StripeCardError && err.setup_intent) return toSetupResult(err.setup_intent);
      throw translateStripeError(err);
    }
  }

  async authorize(input: AuthorizeInput): Promise<PaymentIntentResult> {
    checkPaymentMethod(input.paymentMethod);
    return this.createAndConfirm(
      input.idempotencyKey,
      {
        amount: input.amountCents,
        currency: input.currency,
        capture_method: 'manual',
        payment_method: input.paymentMethod,
        ...(input.customerId ? { customer: input.customerId } : {}),
        ...(input.description ? { description: input.description } : {}),
      },
      input.metadata,
      {},
    );
  }

  async chargeOffSession(input: ChargeOffSessionInput): Promise<PaymentIntentResult> {
    checkPaymentMethod(input.paymentMethod);
    return this.createAndConfirm(
      input.idempotencyKey,
      {
        amount: input.amountCents,
        currency: input.currency,
        capture_method: 'automatic',
        customer: input.customerId,
        payment_method: input.paymentMethod,
        ...(input.description ? { description: input.description } : {}),
      },
      input.metadata,
      { off_session: true },
    );
  }

  async capture(input: CaptureInput): Promise<PaymentIntentResult> {
    checkIdempotencyKey(input.idempotencyKey);
    if (input.amountCents !== undefined) checkAmount(input.amountCents, 'amount to capture');
    const pi = await this.call(() =>
      this.stripe.paymentIntents.capture(
        input.paymentIntentId,
        { expand: EXPAND, ...(input.amountCents !== undefined ? { amount_to_capture: input.amountCents } : {}) },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return toIntentResult(pi);
  }

  async cancel(input: CancelInput): Promise<PaymentIntentResult> {
    checkIdempotencyKey(input.idempotencyKey);
    try {
      const pi = await this.stripe.paymentIntents.cancel(input.paymentIntentId, { expand: EXPAND }, { idempotencyKey: input.idempotencyKey });
      return toIntentResult(pi);
    } catch (err) {
      // Voiding twice is harmless (compensations may run again); Stripe calls it an error, the port does not.
      if (err instanceof Stripe.errors.StripeInvalidRequestError && err.payment_intent?.status === 'canceled') {
        return toIntentResult(err.payment_intent);
      }
      throw translateStripeError(err);
    }
  }

  async refund(input: RefundInput): Promise<RefundResult> {
    checkIdempotencyKey(input.idempotencyKey);
    if (input.amountCents !== undefined) checkAmount(input.amountCents, 'refund amount');
    const refund = await this.call(() =>
      this.stripe.refunds.create(
        { payment_intent: input.paymentIntentId, ...(input.amountCents !== undefined ? { amount: input.amountCents } : {}) },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return toRefundResult(refund);
  }

  async retrieve(paymentIntentId: string): Promise<PaymentIntentResult> {
    return toIntentResult(await this.call(() => this.stripe.paymentIntents.retrieve(paymentIntentId, { expand: EXPAND })));
  }

  /**
   * Stripe Connect Express: Stripe hosts the onboarding (identity, bank account) and the dashboard; the platform
   * only requests transfers, so sellers' payouts can be sent to the account. While details are missing, an
   * account link (short-lived, single use) is the page to send the seller to.
   */
  async createConnectedAccount(input: ConnectedAccountInput): Promise<ConnectedAccountResult> {
    checkIdempotencyKey(input.idempotencyKey);
    const account = await this.call(() =>
      this.stripe.accounts.create(
        {
          type: 'express',
          country: input.country,
          email: input.email,
          capabilities: { transfers: { requested: true } },
          metadata: { owner_ref: input.ownerRef, business_key: input.idempotencyKey },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    return this.accountResult(account, { returnUrl: input.returnUrl, refreshUrl: input.refreshUrl });
  }

  async retrieveConnectedAccount(accountId: string, opts: { onboardingLink?: { returnUrl: string; refreshUrl: string } } = {}): Promise<ConnectedAccountResult> {
    const account = await this.call(() => this.stripe.accounts.retrieve(accountId));
    return this.accountResult(account, opts.onboardingLink);
  }

  /**
   * A Connect transfer to the seller's account. The business key is the Stripe idempotency key, the transfer group
   * and metadata.business_key: before creating, the account's transfers in that group are looked at, so a retry
   * after Stripe's 24 h key expiry still finds the first transfer. A request Stripe refuses (account not able to
   * receive transfers, platform balance short) moved no money: a failed outcome, not an exception.
   */
  async transfer(input: TransferInput): Promise<TransferResult> {
    checkIdempotencyKey(input.idempotencyKey);
    checkAmount(input.amountCents);
    const currency = normaliseCurrency(input.currency);
    const key = input.idempotencyKey;
    const earlier = await this.call(() => this.stripe.transfers.list({ destination: input.destinationAccountId, transfer_group: key, limit: 10 }));
    const found = earlier.data.find((t) => t.metadata?.business_key === key);
    if (found) return toTransferResult(found);
    try {
      const created = await this.stripe.transfers.create(
        { amount: input.amountCents, currency, destination: input.destinationAccountId, transfer_group: key, metadata: { ...input.metadata, business_key: key } },
        { idempotencyKey: key },
      );
      return toTransferResult(created);
    } catch (err) {
      const translated = translateStripeError(err);
      if (translated instanceof PaymentRequestError && translated.code !== 'idempotency_key_reused') {
        return { id: null, status: 'failed', failureCode: translated.code, failureMessage: translated.message };
      }
      throw translated;
    }
  }

  private async accountResult(account: Stripe.Account, link?: { returnUrl: string; refreshUrl: string }): Promise<ConnectedAccountResult> {
    const status = connectedAccountStatus(account);
    if (status === 'ready' || !link) return { id: account.id, status };
    // No idempotency key: a link is single use and expires in minutes, so a replayed one would be useless.
    const accountLink = await this.call(() =>
      this.stripe.accountLinks.create({ account: account.id, type: 'account_onboarding', return_url: link.returnUrl, refresh_url: link.refreshUrl }),
    );
    return { id: account.id, status, onboardingUrl: accountLink.url };
  }

  private async createAndConfirm(
    businessKey: string,
    params: Omit<Stripe.PaymentIntentCreateParams, 'metadata' | 'confirm'>,
    metadata: Record<string, string> | undefined,
    confirmParams: Stripe.PaymentIntentConfirmParams,
  ): Promise<PaymentIntentResult> {
    checkIdempotencyKey(businessKey);
    checkAmount(params.amount);
    const currency = normaliseCurrency(params.currency);

    let pi = await this.findEarlier(businessKey);
    let fresh = false;
    if (pi) {
      if (pi.amount !== params.amount || pi.currency !== currency) {
        throw new PaymentRequestError(
          `Business key '${businessKey}' already has PaymentIntent ${pi.id} for ${pi.amount} ${pi.currency}; a different amount needs a new key.`,
          'idempotency_key_reused',
        );
      }
    } else {
      const created = await this.call(() =>
        this.stripe.paymentIntents.create(
          { ...params, currency, allowed_payment_method_types: ['card'], metadata: { ...metadata, business_key: businessKey } },
          { idempotencyKey: `${businessKey}:create` },
        ),
      );
      await this.opts.knownIntents?.remember(businessKey, created.id);
      pi = created;
      fresh = true;
    }

    // A found intent may never have been confirmed (crash between create and confirm); finish the job.
    const unconfirmed = pi.status === 'requires_confirmation' || (pi.status === 'requires_payment_method' && !pi.last_payment_error);
    if (!fresh && !unconfirmed) return toIntentResult(pi);
    try {
      const confirmed = await this.stripe.paymentIntents.confirm(pi.id, { ...confirmParams, expand: EXPAND }, { idempotencyKey: `${businessKey}:confirm` });
      return toIntentResult(confirmed);
    } catch (err) {
      // Declines (incl. authentication_required off-session) are outcomes; the failed intent rides on the error.
      if (err instanceof Stripe.errors.StripeCardError && err.payment_intent) return toIntentResult(err.payment_intent);
      throw translateStripeError(err);
    }
  }

  private async findEarlier(businessKey: string): Promise<Stripe.PaymentIntent | undefined> {
    const known = await this.opts.knownIntents?.find(businessKey);
    if (known) return this.call(() => this.stripe.paymentIntents.retrieve(known, { expand: EXPAND }));
    try {
      // Search is eventually consistent (about a minute); the `:create` idempotency key covers that gap.
      const found = await this.stripe.paymentIntents.search({ query: `metadata['business_key']:${searchString(businessKey)}`, limit: 10 });
      return found.data.find((pi) => pi.metadata?.business_key === businessKey);
    } catch (err) {
      // Search is unavailable for some accounts (e.g. India); the idempotency key and our records still hold.
      if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripePermissionError) {
        this.opts.logger?.warn({ err, businessKey }, 'Stripe PaymentIntent search unavailable; relying on idempotency key');
        return undefined;
      }
      throw err;
    }
  }

  private async findOrCreateCustomer(customerRef: string, email?: string): Promise<string> {
    if (typeof customerRef !== 'string' || customerRef.length < 1 || customerRef.length > 200) {
      throw new PaymentRequestError('A customer reference (1-200 characters) is required.', 'invalid_customer_ref');
    }
    const found = await this.call(() => this.stripe.customers.search({ query: `metadata['customer_ref']:${searchString(customerRef)}`, limit: 10 }));
    const match = found.data.find((c) => c.metadata?.customer_ref === customerRef);
    if (match) return match.id;
    const created = await this.call(() =>
      this.stripe.customers.create(
        { ...(email ? { email } : {}), metadata: { customer_ref: customerRef } },
        // Derived from the ref: two racing first-time saves create one customer.
        { idempotencyKey: `customer:${customerRef}` },
      ),
    );
    return created.id;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateStripeError(err);
    }
  }
}
