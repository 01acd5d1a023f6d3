import { createHash } from 'node:crypto';
import { refusals } from '../domain/errors';
import { PaymentRequestError } from '../payments/gateway';
import type { PaymentRecord } from '../payments/paymentRecords';
import { createPaymentService, PaymentNotAllowedError } from '../payments/paymentService';
import type { DropsDeps } from './deps';
import { findEntry, type EntryRow } from './lottery';
import { DropRateLimiter } from './rateLimit';
import { dropOfMode } from './repository';

/**
 * Lottery entries: one per account, taken only inside the registration window, with the card saved now
 * (SetupIntent semantics) and charged only if the entry wins and is claimed.
 */

/** The public shape of an entry; `waitlistPosition` while waitlisted (1 = next to be promoted). */
export function entryJson(e: EntryRow, waitlistPosition?: number) {
  return {
    id: e.id,
    drop_id: e.drop_id,
    status: e.status,
    payment_method: e.payment_method,
    rank: e.rank,
    ...(e.status === 'won' && e.claim_expires_at ? { claim_expires_at: e.claim_expires_at.toISOString() } : {}),
    ...(waitlistPosition !== undefined ? { waitlist_position: waitlistPosition } : {}),
    ...(e.order_id ? { order_id: e.order_id } : {}),
    created_at: e.created_at.toISOString(),
  };
}

const alreadyEntered = () => refusals.conflict('already_entered', 'You have entered this drop already.');

export function createDropEntries(deps: DropsDeps) {
  const { db, logger } = deps;
  const limiter = new DropRateLimiter(deps.redis, deps.config);
  const payments = createPaymentService(deps);

  return {
    /** Enters the caller into a lottery drop, saving the card for an off-session charge if the entry wins. */
    async enter(r: { dropId: string; user: { id: string; email: string }; ip: string | undefined; paymentMethod: string }) {
      await limiter.consume('entry', { userId: r.user.id, ip: r.ip });
      const d = await dropOfMode(db, r.dropId, 'lottery');
      const now = Date.now();
      const registrationClosed = () =>
        refusals.unprocessable('registration_closed', `Entries are taken from ${d.opens_at.toISOString()} until ${d.closes_at!.toISOString()}.`);
      // The window is the stored instants, not the workflow's progress: a busy worker marking the drop open a
      // moment late must not turn away an entrant who came on time.
      const registering = (d.status === 'scheduled' || d.status === 'open') && now >= d.opens_at.getTime() && now < d.closes_at!.getTime();
      if (!registering) throw registrationClosed();
      if (await findEntry(db, d.id, r.user.id)) throw alreadyEntered();

      // SetupIntent semantics: the card is saved for an off-session charge if this entry wins.
      // Keyed by the card too: a declined card stays declined on retry, another card is a new save.
      const paymentKey = `drop:${d.id}:entry:${r.user.id}:${createHash('sha256').update(r.paymentMethod).digest('hex').slice(0, 16)}`;
      let saved: PaymentRecord;
      try {
        saved = await payments.savePaymentMethod({ businessKey: paymentKey, paymentMethod: r.paymentMethod, customerRef: r.user.id, email: r.user.email });
      } catch (err) {
        if (err instanceof PaymentRequestError) throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${err.message}`, { reason: err.code });
        if (err instanceof PaymentNotAllowedError) throw refusals.conflict('payment_not_allowed', err.message);
        logger.error({ err }, 'payment provider call failed while saving a drop entry card');
        throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.');
      }
      if (saved.status !== 'succeeded') {
        throw refusals.payment('payment_declined', 'Payment declined', saved.failureMessage ?? 'The card could not be saved.', { decline_code: saved.declineCode ?? saved.failureCode });
      }

      // The drop row is share-locked while the entry goes in, so closing (which locks it for update and then
      // hashes the entries) sees either this entry or a closed drop, never half of both.
      const entry = await db.transaction(async (trx) => {
        const open = await trx('drops')
          .where({ id: d.id })
          .whereIn('status', ['scheduled', 'open'])
          .andWhere('opens_at', '<=', trx.fn.now())
          .andWhere('closes_at', '>', trx.fn.now())
          .forShare()
          .first('id');
        if (!open) throw registrationClosed();
        const [row] = (await trx('drop_entries')
          .insert({ drop_id: d.id, user_id: r.user.id, payment_method: r.paymentMethod, payment_key: paymentKey })
          .onConflict(['drop_id', 'user_id'])
          .ignore()
          .returning('*')) as EntryRow[];
        if (!row) throw alreadyEntered();
        return row;
      });
      return entryJson(entry);
    },

    /** The caller's entry, with its place on the waitlist while waitlisted. */
    async mine(dropId: string, userId: string) {
      const e = await findEntry(db, dropId, userId);
      if (!e) throw refusals.notFound('entry');
      let position: number | undefined;
      if (e.status === 'waitlisted' && e.rank !== null) {
        const ahead = (await db('drop_entries').where({ drop_id: e.drop_id, status: 'waitlisted' }).andWhere('rank', '<', e.rank).count('* as n').first()) as { n: string };
        position = Number(ahead.n) + 1;
      }
      return entryJson(e, position);
    },
  };
}
