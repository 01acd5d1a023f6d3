import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import type { Logger } from '../logger';
import type { PaymentGateway } from '../payments/gateway';
import { paymentOutcome } from '../payments/outcomes';
import type { PaymentRecord } from '../payments/paymentRecords';
import { createPaymentService, type AuthorizeRequest, type SavePaymentMethodRequest } from '../payments/paymentService';
import { recordLedgerEntry } from './ledger';
import type { PledgeRow } from './pledgeRow';

/**
 * The payments behind a pledge before its campaign is decided: the card saved for the deadline or its funds
 * held now, and the one way a hold is voided. Business keys are deterministic, so a retried request finds
 * the payment its first attempt made instead of making another.
 */

/** The key of the payment that puts a pledge's card in place; later revisions (edits, card changes) get their own. */
export function cardPaymentKey(pledgeId: string, mode: PledgeRow['payment_mode'], revision?: number): string {
  const key = `pledge:${pledgeId}:${mode === 'save_card' ? 'setup' : 'authorize'}`;
  return revision === undefined ? key : `${key}:${revision}`;
}

/** The key of settlement's charge attempt `attempt` (a new attempt only after a recorded decline). */
export const chargeKey = (pledgeId: string, attempt: number) => `pledge:${pledgeId}:charge:${attempt}`;

type PledgeRef = Pick<PledgeRow, 'id' | 'campaign_id' | 'backer_id' | 'currency'>;

/**
 * The ledger's void line for a released hold. It only answers an authorization line, so holds that never
 * became part of the pledge (a declined edit, an unfinished authentication) appear in neither.
 */
export async function recordHoldVoided(q: Knex | Knex.Transaction, pledge: Omit<PledgeRef, 'backer_id'>, released: PaymentRecord): Promise<void> {
  if (paymentOutcome(released) !== 'canceled' || !released.providerPaymentId) return;
  const authorized = (await q('ledger_transactions').where({ business_key: released.businessKey, kind: 'authorization' }).first('amount_cents')) as
    | { amount_cents: number }
    | undefined;
  if (!authorized) return;
  await recordLedgerEntry(q, {
    campaignId: pledge.campaign_id,
    pledgeId: pledge.id,
    kind: 'void',
    amountCents: Number(authorized.amount_cents),
    currency: pledge.currency.trim(),
    provider: released.provider,
    providerId: released.providerPaymentId,
    businessKey: `${released.businessKey}:void`,
  });
}

type SaveCardInput = { businessKey: string; paymentMethod: string; email?: string };
type HoldInput = { businessKey: string; amountCents: number; paymentMethod: string; customerId?: string; revision?: number };

/** The request that saves a pledge's card; the one-statement path sends it to the provider itself, so both must agree. */
export function saveCardRequest(pledge: PledgeRef, input: SaveCardInput): SavePaymentMethodRequest {
  return { businessKey: input.businessKey, paymentMethod: input.paymentMethod, customerRef: pledge.backer_id, email: input.email };
}

/** The request that holds a pledge's funds (see saveCardRequest). */
export function holdRequest(pledge: PledgeRef, input: HoldInput): AuthorizeRequest {
  return {
    businessKey: input.businessKey,
    amountCents: input.amountCents,
    currency: pledge.currency.trim(),
    paymentMethod: input.paymentMethod,
    customerId: input.customerId,
    customerRef: pledge.backer_id,
    description: input.revision === undefined ? `Pledge ${pledge.id}` : `Pledge ${pledge.id} revision ${input.revision}`,
    metadata: { pledge_id: pledge.id, campaign_id: pledge.campaign_id },
  };
}

export function createPledgePayments(deps: { db: Db; payments: PaymentGateway; logger: Logger }) {
  const service = createPaymentService(deps);

  async function voidHold(pledge: PledgeRef, businessKey: string): Promise<void> {
    await recordHoldVoided(deps.db, pledge, await service.cancelPayment({ businessKey }));
  }

  return {
    /** Saves the card for charges later (SetupIntent semantics). */
    saveCard: (pledge: PledgeRef, input: SaveCardInput): Promise<PaymentRecord> => service.savePaymentMethod(saveCardRequest(pledge, input)),

    /** Holds `amountCents` on the card until the deadline captures or voids it. */
    placeHold: (pledge: PledgeRef, input: HoldInput): Promise<PaymentRecord> => service.authorizePayment(holdRequest(pledge, input)),

    /** Voids a hold at the provider (locally when it never answered), then writes its ledger void line. */
    voidHold,

    /** Voids a new hold the pledge does not keep; a failure only leaves a hold that expires on its own. */
    discardHold: (pledge: PledgeRef, businessKey: string): Promise<void> =>
      voidHold(pledge, businessKey).catch((err: unknown) => deps.logger.warn({ err, pledgeId: pledge.id, businessKey }, 'could not void a discarded hold')),

    /**
     * Voids the hold a new one replaced, once the new one is in place and recorded. A failure leaves an extra
     * hold that expires on its own, never a missing one, so it is logged for an operator and not raised.
     */
    releaseReplacedHold: (pledge: PledgeRef, businessKey: string): Promise<void> =>
      voidHold(pledge, businessKey).catch((err: unknown) => deps.logger.error({ err, pledgeId: pledge.id, businessKey }, 'could not void the replaced hold')),
  };
}

export type PledgePayments = ReturnType<typeof createPledgePayments>;
