import type { Config } from '../config';
import type { Db } from '../infra/db';
import { PaymentRecords } from '../payments/paymentRecords';
import { isReleased } from './bookingLedger';
import { planReminders, sentReminderKeys } from './bookingReminders';
import type { BookingStatus } from './contract';

/**
 * What a booked row's workflow does next, derived from the row alone (and the settings), so the workflow keeps no
 * state of its own: after any wake (a timer, bookingChanged, a replay, a continue-as-new) it asks again.
 *
 * While confirmed: the off-session authorization of a far booking at start - BOOKING_AUTHORIZATION_WINDOW (and, if
 * it failed, the end of the customer's grace), the reminders, and the completion at end + BOOKING_COMPLETION_GRACE.
 * Once ended: the outcome's money (if a request left it undone), then the provider's release at ended +
 * BOOKING_DISPUTE_WINDOW when anything was kept. Then nothing: the workflow ends.
 */

export type LifecycleStep =
  | { kind: 'remind'; offsetMs: number; startsAt: string }
  | { kind: 'authorize' }
  | { kind: 'payment_grace_over' }
  | { kind: 'complete' }
  | { kind: 'settle_money' }
  | { kind: 'release' };

export interface LifecyclePlan {
  status: BookingStatus;
  startsAt: string;
  endsAt: string;
  /** The step due now, if any: the workflow runs it and asks again. */
  step: LifecycleStep | null;
  /** What comes next, for operators (the workflow's current details). */
  next: string;
  /** How long until the next step is due (this host's clock); null when nothing is left. */
  wakeInMs: number | null;
}

const DAY_MS = 86_400_000;

/**
 * How long a customer whose off-session authorization failed has to complete it (authenticate, or use the app to
 * pay) before the platform cancels: half the time left before the start, at most a day, so the provider learns
 * of the cancellation well before the appointment.
 */
export const paymentGraceMs = (startsAt: Date, failedAt: Date) => Math.min(DAY_MS, Math.max(0, (startsAt.getTime() - failedAt.getTime()) / 2));

interface PlanRow {
  id: string;
  status: BookingStatus;
  starts_at: Date;
  ends_at: Date;
  confirmed_at: Date | null;
  created_at: Date;
  ended_at: Date | null;
  captured_cents: string | number;
  money_settled_at: Date | null;
  payment_failed_at: Date | null;
  payment_key: string | null;
}

export async function lifecyclePlan(deps: { db: Db; config: Config }, bookingId: string): Promise<LifecyclePlan | undefined> {
  const { db, config } = deps;
  const row = (await db('bookings')
    .where({ id: bookingId })
    .first('id', 'status', 'starts_at', 'ends_at', 'confirmed_at', 'created_at', 'ended_at', 'captured_cents', 'money_settled_at', 'payment_failed_at', 'payment_key')) as
    | PlanRow
    | undefined;
  if (!row) return undefined;
  const now = Date.now();
  const base = { status: row.status, startsAt: row.starts_at.toISOString(), endsAt: row.ends_at.toISOString() };
  const done = { ...base, step: null, next: 'nothing: the booking is over', wakeInMs: null };

  // Steps due now run one at a time, in the order pushed (completion first: a booking already over needs no
  // payment steps or reminders); otherwise the workflow sleeps until the earliest upcoming one.
  const due: Array<{ step: LifecycleStep; what: string }> = [];
  const upcoming: Array<{ at: number; what: string }> = [];
  const plan = (at: number, step: LifecycleStep, what: string) => (at <= now ? due.push({ step, what }) : upcoming.push({ at, what }));

  if (row.status === 'confirmed') {
    plan(row.ends_at.getTime() + config.BOOKING_COMPLETION_GRACE, { kind: 'complete' }, 'complete by itself');
    const standing = row.payment_key ? await new PaymentRecords(db).findByBusinessKey(row.payment_key) : undefined;
    if (standing?.kind === 'setup') {
      if (row.payment_failed_at) {
        const at = row.payment_failed_at.getTime() + paymentGraceMs(row.starts_at, row.payment_failed_at);
        plan(at, { kind: 'payment_grace_over' }, 'cancel unless the payment was completed');
      } else {
        plan(row.starts_at.getTime() - config.BOOKING_AUTHORIZATION_WINDOW, { kind: 'authorize' }, 'authorize the price off-session');
      }
    }
    const reminders = planReminders({
      bookingId: row.id,
      startsAt: row.starts_at,
      plannedAt: await startSetAt(db, row),
      offsetsMs: config.BOOKING_REMINDERS,
      sent: await sentReminderKeys(db, row.id),
      now: new Date(now),
    });
    if (reminders.due) due.push({ step: { kind: 'remind', ...reminders.due }, what: 'remind the customer' });
    if (reminders.nextAt) upcoming.push({ at: reminders.nextAt.getTime(), what: 'remind the customer' });
  } else if (row.status === 'completed' || row.status === 'cancelled' || row.status === 'no_show') {
    if (!row.money_settled_at) return { ...base, step: { kind: 'settle_money' }, next: 'settle the money of the outcome', wakeInMs: 0 };
    if (Number(row.captured_cents) === 0 || (await isReleased(db, row.id))) return done;
    plan((row.ended_at ?? row.starts_at).getTime() + config.BOOKING_DISPUTE_WINDOW, { kind: 'release' }, 'release the money to the provider');
  } else {
    return done;
  }

  if (due[0]) return { ...base, step: due[0].step, next: due[0].what, wakeInMs: 0 };
  if (upcoming.length === 0) return done;
  const first = upcoming.reduce((a, b) => (b.at < a.at ? b : a));
  return { ...base, step: null, next: `${first.what} at ${new Date(first.at).toISOString()}`, wakeInMs: first.at - now };
}

/** When the current start was set: the latest reschedule, else the confirmation. */
async function startSetAt(db: Db, row: PlanRow): Promise<Date> {
  const moved = (await db('booking_status_history').where({ booking_id: row.id, status: 'rescheduled' }).max({ at: 'created_at' }).first()) as { at: Date | null } | undefined;
  const confirmed = row.confirmed_at ?? row.created_at;
  return moved?.at && moved.at > confirmed ? moved.at : confirmed;
}
