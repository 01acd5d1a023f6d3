import type { Db } from '../../src/infra/db';
import type { ChargeOffSessionInput, PaymentIntentResult } from '../../src/payments/gateway';
import { SimulatedGateway } from '../../src/payments/simulatedGateway';

/**
 * The simulated gateway with scripted answers for a store's plan charges, for dunning tests: Stripe has no test
 * card that saves fine and then declines softly a few times before paying, or declines hard (lost card) off-session.
 * A scripted decline is a real simulated decline (the charge goes to pm_card_chargeCustomerFail, saved to the same
 * customer beforehand), made hard by giving its intent the `lost_card` decline code. Each idempotency key is decided
 * once, so a replayed key gets its first answer, as from the provider.
 */
export type Scripted = 'soft' | 'hard' | 'ok';

export class ScriptedGateway extends SimulatedGateway {
  private readonly scripts = new Map<string, Scripted[]>();
  private readonly decided = new Map<string, Scripted>();

  constructor(private readonly sim: Db) {
    super(sim);
  }

  /** The answers to the store's next plan charges (one per new payment key), then ok. */
  script(storeId: string, answers: Scripted[]): void {
    this.scripts.set(storeId.toLowerCase(), [...answers]);
  }

  override async chargeOffSession(input: ChargeOffSessionInput): Promise<PaymentIntentResult> {
    const store = /^subscription:([0-9a-f-]{36}):/.exec(input.idempotencyKey)?.[1];
    let answer = this.decided.get(input.idempotencyKey);
    if (!answer) {
      answer = (store && this.scripts.get(store)?.shift()) || 'ok';
      this.decided.set(input.idempotencyKey, answer);
    }
    if (answer === 'ok') return super.chargeOffSession(input);
    const declined = await super.chargeOffSession({ ...input, paymentMethod: 'pm_card_chargeCustomerFail' });
    if (answer === 'soft') return declined;
    await this.sim('sim_payment_intents').where({ id: declined.id }).update({ decline_code: 'lost_card', failure_message: 'Your card has been reported lost.' });
    return { ...declined, declineCode: 'lost_card', failureMessage: 'Your card has been reported lost.' };
  }
}
