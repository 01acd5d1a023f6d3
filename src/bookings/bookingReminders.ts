import type { Knex } from 'knex';
import { notify } from '../notifications/notify';
import { bookingNoticeData } from './bookingNotices';

/**
 * Reminders before a booking's start, at each BOOKING_REMINDERS offset ("24h,1h", parsed by src/config.ts). One notification per booking,
 * offset and start: the dedupe key names all three, so a retried step never reminds twice, while a reschedule's
 * new start reminds again. Which reminder is due is a pure function of the row, so the workflow can re-derive its
 * plan after any wake, restart or continue-as-new.
 */

export const reminderDedupeKey = (bookingId: string, offsetMs: number, startsAt: Date | string) =>
  `booking_reminder:${bookingId}:${offsetMs}:${new Date(startsAt).toISOString()}`;

export interface ReminderFacts {
  bookingId: string;
  startsAt: Date;
  /** When the current start was set: the confirmation, or the latest reschedule. */
  plannedAt: Date;
  offsetsMs: readonly number[];
  /** Dedupe keys of the reminders already sent. */
  sent: ReadonlySet<string>;
  now: Date;
}

export interface ReminderPlan {
  /** The reminder to send now, if any. */
  due: { offsetMs: number; startsAt: string } | null;
  /** The next reminder's instant after now, if any. */
  nextAt: Date | null;
}

/**
 * A reminder is owed when its instant (start - offset) came after the start was set (a booking made 3 hours ahead
 * gets no "24 hours before") and before the start. Of several owed at once (the workers were down) only the
 * nearest the start is sent: two reminders back to back say nothing the latest does not.
 */
export function planReminders(f: ReminderFacts): ReminderPlan {
  const start = f.startsAt.getTime();
  const now = f.now.getTime();
  let due: ReminderPlan['due'] = null;
  let nextAt: number | null = null;
  for (const offsetMs of f.offsetsMs) {
    const at = start - offsetMs;
    if (at < f.plannedAt.getTime() || at >= start) continue;
    if (at > now) {
      nextAt = nextAt === null ? at : Math.min(nextAt, at);
      continue;
    }
    if (now >= start) continue;
    // Offsets run largest first, so the last owed one seen is the nearest the start.
    const key = reminderDedupeKey(f.bookingId, offsetMs, f.startsAt);
    due = f.sent.has(key) ? null : { offsetMs, startsAt: f.startsAt.toISOString() };
  }
  return { due, nextAt: nextAt === null ? null : new Date(nextAt) };
}

/** The dedupe keys of the reminders a booking has had (any start). */
export async function sentReminderKeys(db: Knex | Knex.Transaction, bookingId: string): Promise<Set<string>> {
  const rows = (await db('notifications').whereLike('dedupe_key', `booking_reminder:${bookingId}:%`).select('dedupe_key')) as Array<{ dedupe_key: string }>;
  return new Set(rows.map((r) => r.dedupe_key));
}

const describeOffset = (ms: number) => {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hour${ms === 3_600_000 ? '' : 's'}`;
  if (ms % 60_000 === 0) return `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}`;
  return `${Math.round(ms / 1000)} seconds`;
};

/**
 * Reminds the customer, once per (booking, offset, start). Nothing when the booking is no longer confirmed or
 * has moved to another start meanwhile (the workflow re-plans for the new one). True when a reminder was sent now.
 */
export async function sendBookingReminder(db: Knex, input: { bookingId: string; offsetMs: number; startsAt: string }): Promise<boolean> {
  return db.transaction(async (trx) => {
    const data = await bookingNoticeData(trx, input.bookingId, { forShare: true });
    if (!data || data.status !== 'confirmed' || data.row.start !== new Date(input.startsAt).toISOString()) return false;
    return notify(trx, {
      userId: data.customerId,
      type: 'booking_reminder',
      title: `Reminder: ${data.row.service_title} in ${describeOffset(input.offsetMs)}`,
      body: `Your booking with ${data.providerName} starts soon.`,
      data: data.row,
      dedupeKey: reminderDedupeKey(input.bookingId, input.offsetMs, input.startsAt),
    });
  });
}
