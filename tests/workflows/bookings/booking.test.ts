import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { LifecyclePlan, LifecycleStep } from '../../../src/bookings/bookingPlan';
import {
  BOOKING_NOT_FOUND,
  BOOKING_WORKFLOW,
  bookingChangedSignal,
  bookingStateQuery,
  bookingWorkflowId,
  type BookingStatus,
  type BookingWorkflow,
  type BookingWorkflowInput,
} from '../../../src/bookings/contract';
import { CustomerId, ProviderId, Status } from '../../../src/temporal/searchAttributes';
import { CONTINUE_AS_NEW_SUGGESTED_AT } from '../../helpers/testEnv';
import { eventually } from '../../helpers/wait';
import { type ActivityInput, type ActivityMocks, type ActivityResult, historyEventTypes, inTurn, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * booking:<id> — a slot hold's timer, then the booked row's lifecycle — with every activity mocked: the hold
 * that ends unbooked (released once, expired), woken early by bookingChanged (read at once, slept again while
 * still held), booked (the lifecycle walked through its plan: reminders, payment steps on the payments queue,
 * completion, settlement, release), a row that never committed, a released hold, the Status search attribute,
 * and the continue-as-new of a lifecycle woken many times.
 */

type Hold = ActivityResult<'bookingHoldState'>;

const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

function bookingInput(over: Partial<BookingWorkflowInput> = {}): BookingWorkflowInput {
  return {
    bookingId: randomUUID(),
    providerId: randomUUID(),
    customerId: randomUUID(),
    serviceId: randomUUID(),
    holdExpiresAt: at(60_000),
    startsAt: at(3 * 86_400_000),
    endsAt: at(3 * 86_400_000 + 3_600_000),
    rowGraceMs: 5_000,
    ...over,
  };
}

const held = (input: BookingWorkflowInput, holdExpiresAt = input.holdExpiresAt): Hold => ({ status: 'held', holdExpiresAt });
const row = (status: BookingStatus, input: BookingWorkflowInput): Hold => ({ status, holdExpiresAt: input.holdExpiresAt });

/** One answer of bookingLifecyclePlan: a step due now, or a sleep of `wakeInMs` (null: nothing left). */
function plan(input: BookingWorkflowInput, status: BookingStatus, step: LifecycleStep | null, wakeInMs: number | null = null): LifecyclePlan {
  return { status, startsAt: input.startsAt, endsAt: input.endsAt, step, next: step ? step.kind : wakeInMs === null ? 'nothing: the booking is over' : 'sleep', wakeInMs };
}

/** A hold that stays held until its end and is then expired by the release step; every lifecycle step succeeding. */
function mocks(input: BookingWorkflowInput, over: ActivityMocks = {}) {
  const defaults = {
    bookingHoldState: jest.fn(async (_: ActivityInput<'bookingHoldState'>): Promise<Hold> => held(input)),
    releaseBookingHold: jest.fn(async (_: ActivityInput<'releaseBookingHold'>): Promise<Hold> => row('expired', input)),
    bookingLifecyclePlan: jest.fn(async (_: ActivityInput<'bookingLifecyclePlan'>): Promise<LifecyclePlan> => plan(input, 'completed', null)),
    sendBookingReminder: jest.fn(async (_: ActivityInput<'sendBookingReminder'>) => ({ sent: true })),
    autoCompleteBooking: jest.fn(async (_: ActivityInput<'autoCompleteBooking'>) => ({ status: 'completed' as BookingStatus })),
    cancelUnpaidBooking: jest.fn(async (_: ActivityInput<'cancelUnpaidBooking'>) => ({ status: 'cancelled' as BookingStatus })),
    releaseBookingFunds: jest.fn(async (_: ActivityInput<'releaseBookingFunds'>) => ({}) as ActivityResult<'releaseBookingFunds'>),
    authorizeBookingOffSession: jest.fn(async (_: ActivityInput<'authorizeBookingOffSession'>) => ({}) as ActivityResult<'authorizeBookingOffSession'>),
    recheckBookingAuthorization: jest.fn(async (_: ActivityInput<'recheckBookingAuthorization'>) => ({ authorized: false })),
    settleBookingMoney: jest.fn(async (_: ActivityInput<'settleBookingMoney'>) => ({}) as ActivityResult<'settleBookingMoney'>),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

type Handle = WorkflowHandle<BookingWorkflow>;
const statusOf = async (h: Handle) => (await h.describe()).typedSearchAttributes.get(Status);
const detailsOf = async (h: Handle) => ((await h.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';

describe('booking workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({
      main: ['bookingHoldState', 'releaseBookingHold', 'bookingLifecyclePlan', 'sendBookingReminder', 'autoCompleteBooking', 'cancelUnpaidBooking', 'releaseBookingFunds'],
      payments: ['authorizeBookingOffSession', 'recheckBookingAuthorization', 'settleBookingMoney'],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Started as src/bookings/holds.ts starts it: ProviderId, CustomerId and Status (held) set by the starter. */
  async function start(input: BookingWorkflowInput, m: ActivityMocks): Promise<WorkflowHandleWithFirstExecutionRunId<BookingWorkflow>> {
    const workflowId = bookingWorkflowId(input.bookingId);
    t.mock(workflowId, m);
    return t.client.workflow.start<BookingWorkflow>(BOOKING_WORKFLOW, {
      workflowId,
      taskQueue: t.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: ProviderId, value: input.providerId },
        { key: CustomerId, value: input.customerId },
        { key: Status, value: 'held' },
      ],
    });
  }

  const count = (h: Handle, name: string) => t.calls(h.workflowId).filter((c) => c.name === name).length;

  it('a hold not booked by its end: read at its end, released once, the workflow ends expired (Status expired)', async () => {
    const input = bookingInput({ holdExpiresAt: at(1_500) });
    const m = mocks(input);
    const h = await start(input, m);

    // Asleep until the hold's end, having read nothing yet.
    await eventually(async () => (await h.query(bookingStateQuery)).nextTimerAt !== null);
    expect(await h.query(bookingStateQuery)).toMatchObject({ status: 'held', phase: 'hold' });
    expect(Date.parse((await h.query(bookingStateQuery)).nextTimerAt!)).toBeGreaterThanOrEqual(Date.parse(input.holdExpiresAt) - 1_000);
    expect(t.calls(h.workflowId)).toEqual([]);
    expect(await detailsOf(h)).toContain(`held until ${input.holdExpiresAt}`);

    await expect(h.result()).resolves.toEqual({ status: 'expired' });
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'releaseBookingHold']);
    expect(t.call(h.workflowId, 'bookingHoldState').at).toBeGreaterThanOrEqual(Date.parse(input.holdExpiresAt));
    expect(t.call(h.workflowId, 'bookingHoldState').input).toEqual({ bookingId: input.bookingId, startedAt: (await h.describe()).startTime.toISOString(), graceMs: 5_000 });
    expect(m.releaseBookingHold).toHaveBeenCalledTimes(1);
    expect(m.releaseBookingHold).toHaveBeenCalledWith({ bookingId: input.bookingId });
    expect(m.bookingLifecyclePlan).not.toHaveBeenCalled();
    expect(await statusOf(h)).toBe('expired');
    expect(await detailsOf(h)).toContain(`expired at ${input.holdExpiresAt}`);
    expect(await h.query(bookingStateQuery)).toMatchObject({ status: 'expired', phase: 'done', nextTimerAt: null });
  });

  it('a release the database says is early (its clock behind) is tried again after a short wait, still once per try', async () => {
    const input = bookingInput({ holdExpiresAt: at(300) });
    const m = mocks(input, {
      releaseBookingHold: inTurn<ActivityInput<'releaseBookingHold'>, Hold>(held(input), row('expired', input)),
    });
    const h = await start(input, m);
    await expect(h.result()).resolves.toEqual({ status: 'expired' });
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'releaseBookingHold', 'bookingHoldState', 'releaseBookingHold']);
    // The re-check waited at least the least re-check wait (500 ms), not a busy loop.
    expect(t.call(h.workflowId, 'bookingHoldState', 1).at - t.call(h.workflowId, 'releaseBookingHold', 0).at).toBeGreaterThanOrEqual(450);
  });

  it('bookingChanged while still held (a failed confirmation): read at once, then asleep again until the end', async () => {
    const input = bookingInput({ holdExpiresAt: at(3_000) });
    const m = mocks(input);
    const h = await start(input, m);
    await eventually(async () => (await h.query(bookingStateQuery)).nextTimerAt !== null);

    await h.signal(bookingChangedSignal);
    await eventually(() => count(h, 'bookingHoldState') === 1);
    expect(t.call(h.workflowId, 'bookingHoldState').at).toBeLessThan(Date.parse(input.holdExpiresAt));
    await expect(h.result()).resolves.toEqual({ status: 'expired' });
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'bookingHoldState', 'releaseBookingHold']);
    expect(t.call(h.workflowId, 'bookingHoldState', 1).at).toBeGreaterThanOrEqual(Date.parse(input.holdExpiresAt));
  });

  it('booked (bookingChanged, row confirmed): the lifecycle runs its plan — reminders, completion, release — each when due, and ends completed', async () => {
    const input = bookingInput();
    // A row-like plan: two reminders (the second due 300 ms after the first plan), completion at +600 ms, the
    // release at +900 ms; each step's mock moves the "row", so any run (a continued one too) plans the same.
    const sent = new Set<number>();
    let completed = false;
    let released = false;
    let base = 0;
    const lifecyclePlan = async (): Promise<LifecyclePlan> => {
      const now = Date.now();
      base ||= now;
      const dueOr = (offset: number, step: LifecycleStep, status: BookingStatus) => (now >= base + offset ? plan(input, status, step) : plan(input, status, null, base + offset - now));
      if (!sent.has(86_400_000)) return plan(input, 'confirmed', { kind: 'remind', offsetMs: 86_400_000, startsAt: input.startsAt });
      if (!sent.has(3_600_000)) return dueOr(300, { kind: 'remind', offsetMs: 3_600_000, startsAt: input.startsAt }, 'confirmed');
      if (!completed) return dueOr(600, { kind: 'complete' }, 'confirmed');
      if (!released) return dueOr(900, { kind: 'release' }, 'completed');
      return plan(input, 'completed', null, null);
    };
    const m = mocks(input, {
      bookingHoldState: async () => row('confirmed', input),
      bookingLifecyclePlan: lifecyclePlan,
      sendBookingReminder: async ({ offsetMs }) => {
        sent.add(offsetMs);
        return { sent: true };
      },
      autoCompleteBooking: async () => {
        completed = true;
        return { status: 'completed' as BookingStatus };
      },
      releaseBookingFunds: async () => {
        released = true;
        return {} as ActivityResult<'releaseBookingFunds'>;
      },
    });
    const h = await start(input, m);
    await eventually(async () => (await h.query(bookingStateQuery)).nextTimerAt !== null);
    expect(t.calls(h.workflowId)).toEqual([]);

    await h.signal(bookingChangedSignal);
    await eventually(async () => (await statusOf(h)) === 'confirmed', 10_000, 'Status confirmed');
    await expect(h.result()).resolves.toEqual({ status: 'completed' });

    const id = h.workflowId;
    const calls = t.calls(id);
    // Woken by the signal, long before the hold's end; the hold is never released.
    expect(calls[0]!.name).toBe('bookingHoldState');
    expect(calls[0]!.at).toBeLessThan(Date.parse(input.holdExpiresAt));
    expect(m.releaseBookingHold).not.toHaveBeenCalled();
    // Each step once, in order, none before it was due (the sleeps in between lasted the plan's wakeInMs).
    const steps = calls.filter((c) => c.name !== 'bookingHoldState' && c.name !== 'bookingLifecyclePlan');
    expect(steps.map((c) => c.name)).toEqual(['sendBookingReminder', 'sendBookingReminder', 'autoCompleteBooking', 'releaseBookingFunds']);
    expect(steps.map((c) => c.input)).toEqual([
      { bookingId: input.bookingId, offsetMs: 86_400_000, startsAt: input.startsAt },
      { bookingId: input.bookingId, offsetMs: 3_600_000, startsAt: input.startsAt },
      { bookingId: input.bookingId },
      { bookingId: input.bookingId },
    ]);
    expect(steps[1]!.at - base).toBeGreaterThanOrEqual(300);
    expect(steps[2]!.at - base).toBeGreaterThanOrEqual(600);
    expect(steps[3]!.at - base).toBeGreaterThanOrEqual(900);
    for (const c of calls) expect(c.taskQueue).toBe(t.taskQueue);
    // A walk this long may pass the test server's continue-as-new suggestion (60 events): each run then reads
    // its row once, first, and goes on from its plan.
    const runs = [...new Set(calls.map((c) => c.runId))];
    expect(runs.map((run) => calls.find((c) => c.runId === run)!.name)).toEqual(runs.map(() => 'bookingHoldState'));
    expect(calls.filter((c) => c.name === 'bookingHoldState')).toHaveLength(runs.length);

    expect(await statusOf(h)).toBe('completed');
    const details = await detailsOf(h);
    expect(details).toContain('**Status:** completed');
    expect(details).toContain('**Next:** nothing: the booking is over');
    expect(await h.query(bookingStateQuery)).toMatchObject({ status: 'completed', phase: 'booked' });
  });

  it('booked just before its end: the release finds it confirmed, the row is read again and the lifecycle runs', async () => {
    const input = bookingInput({ holdExpiresAt: at(300) });
    const m = mocks(input, {
      bookingHoldState: inTurn<ActivityInput<'bookingHoldState'>, Hold>(held(input), row('confirmed', input)),
      releaseBookingHold: async () => row('confirmed', input),
      bookingLifecyclePlan: inTurn<ActivityInput<'bookingLifecyclePlan'>, LifecyclePlan>(plan(input, 'confirmed', { kind: 'complete' }), plan(input, 'completed', null, null)),
    });
    const h = await start(input, m);
    await expect(h.result()).resolves.toEqual({ status: 'completed' });
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'releaseBookingHold', 'bookingHoldState', 'bookingLifecyclePlan', 'autoCompleteBooking', 'bookingLifecyclePlan']);
  });

  it('payment steps run on the payments queue: the far booking authorized off-session, and an unpaid one cancelled after its grace', async () => {
    const input = bookingInput();
    const m = mocks(input, {
      bookingHoldState: async () => row('confirmed', input),
      bookingLifecyclePlan: inTurn<ActivityInput<'bookingLifecyclePlan'>, LifecyclePlan>(
        plan(input, 'confirmed', { kind: 'authorize' }),
        plan(input, 'confirmed', { kind: 'payment_grace_over' }),
        plan(input, 'cancelled', { kind: 'settle_money' }),
        plan(input, 'cancelled', null, null),
      ),
    });
    const h = await start(input, m);
    await h.signal(bookingChangedSignal);
    await expect(h.result()).resolves.toEqual({ status: 'cancelled' });

    const id = h.workflowId;
    // A walk this long may pass the test server's continue-as-new suggestion (60 events): each run then reads
    // its row once, first, and the plan carries on where the last run left it — no step is done twice.
    const calls = t.calls(id);
    const runs = [...new Set(calls.map((c) => c.runId))];
    expect(runs.map((run) => calls.find((c) => c.runId === run)!.name)).toEqual(runs.map(() => 'bookingHoldState'));
    expect(calls.filter((c) => c.name === 'bookingHoldState')).toHaveLength(runs.length);
    expect(calls.filter((c) => c.name !== 'bookingHoldState').map((c) => c.name)).toEqual([
      'bookingLifecyclePlan',
      'authorizeBookingOffSession',
      'bookingLifecyclePlan',
      'recheckBookingAuthorization',
      'cancelUnpaidBooking',
      'bookingLifecyclePlan',
      'settleBookingMoney',
      'bookingLifecyclePlan',
    ]);
    for (const name of ['authorizeBookingOffSession', 'recheckBookingAuthorization', 'settleBookingMoney'] as const) {
      expect(t.call(id, name)).toMatchObject({ taskQueue: t.paymentsTaskQueue, input: { bookingId: input.bookingId } });
    }
    expect(t.call(id, 'cancelUnpaidBooking')).toMatchObject({ taskQueue: t.taskQueue, input: { bookingId: input.bookingId } });
    expect(await statusOf(h)).toBe('cancelled');
  });

  it('an authorization completed within the grace is not cancelled', async () => {
    const input = bookingInput();
    const m = mocks(input, {
      bookingHoldState: async () => row('confirmed', input),
      recheckBookingAuthorization: async () => ({ authorized: true }),
      bookingLifecyclePlan: inTurn<ActivityInput<'bookingLifecyclePlan'>, LifecyclePlan>(plan(input, 'confirmed', { kind: 'payment_grace_over' }), plan(input, 'confirmed', null, null)),
    });
    const h = await start(input, m);
    await h.signal(bookingChangedSignal);
    await expect(h.result()).resolves.toEqual({ status: 'confirmed' });
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'bookingLifecyclePlan', 'recheckBookingAuthorization', 'bookingLifecyclePlan']);
    expect(m.cancelUnpaidBooking).not.toHaveBeenCalled();
  });

  it('bookingChanged during a lifecycle sleep (a cancellation) re-plans at once: Status follows the row, its money is settled', async () => {
    const input = bookingInput();
    let cancelled = false;
    let settled = false;
    const m = mocks(input, {
      bookingHoldState: async () => row('confirmed', input),
      bookingLifecyclePlan: async () => {
        if (!cancelled) return plan(input, 'confirmed', null, 60_000);
        if (!settled) return plan(input, 'cancelled', { kind: 'settle_money' });
        return plan(input, 'cancelled', null, null);
      },
      settleBookingMoney: async () => {
        settled = true;
        return {} as ActivityResult<'settleBookingMoney'>;
      },
    });
    const h = await start(input, m);
    await h.signal(bookingChangedSignal);
    await eventually(async () => (await h.query(bookingStateQuery)).phase === 'booked' && (await h.query(bookingStateQuery)).nextTimerAt !== null);
    expect(await statusOf(h)).toBe('confirmed');
    expect(await detailsOf(h)).toContain('**Status:** confirmed');

    cancelled = true;
    const signalled = Date.now();
    await h.signal(bookingChangedSignal);
    await expect(h.result()).resolves.toEqual({ status: 'cancelled' });
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'bookingLifecyclePlan', 'bookingLifecyclePlan', 'settleBookingMoney', 'bookingLifecyclePlan']);
    // Woken by the signal, not by the minute-long timer.
    expect(t.call(h.workflowId, 'bookingLifecyclePlan', 1).at - signalled).toBeLessThan(30_000);
    expect(await statusOf(h)).toBe('cancelled');
  });

  it('a retried lifecycle step is given the same input and the plan is not asked in between', async () => {
    const input = bookingInput();
    const reminder = { kind: 'remind' as const, offsetMs: 3_600_000, startsAt: input.startsAt };
    let attempts = 0;
    const m = mocks(input, {
      bookingHoldState: async () => row('confirmed', input),
      bookingLifecyclePlan: inTurn<ActivityInput<'bookingLifecyclePlan'>, LifecyclePlan>(plan(input, 'confirmed', reminder), plan(input, 'confirmed', null, null)),
      sendBookingReminder: async () => {
        if (++attempts === 1) throw ApplicationFailure.retryable('SMTP connection reset', 'Error');
        return { sent: true };
      },
    });
    const h = await start(input, m);
    await h.signal(bookingChangedSignal);
    await expect(h.result()).resolves.toEqual({ status: 'confirmed' });
    const reminders = t.calls(h.workflowId).filter((c) => c.name === 'sendBookingReminder');
    expect(reminders.map((c) => c.attempt)).toEqual([1, 2]);
    expect(reminders.map((c) => c.input)).toEqual([
      { bookingId: input.bookingId, offsetMs: 3_600_000, startsAt: input.startsAt },
      { bookingId: input.bookingId, offsetMs: 3_600_000, startsAt: input.startsAt },
    ]);
    expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState', 'bookingLifecyclePlan', 'sendBookingReminder', 'sendBookingReminder', 'bookingLifecyclePlan']);
  });

  it('a hold whose request rolled back: "not committed" retried until the grace, then BookingNotFound ends it expired', async () => {
    const input = bookingInput({ holdExpiresAt: at(-1), rowGraceMs: 1_000 });
    const m = mocks(input, {
      bookingHoldState: async (arg) => {
        // As the real activity: retryable within the grace, then BookingNotFound.
        if (Date.now() - Date.parse(arg.startedAt) < arg.graceMs) throw ApplicationFailure.retryable('not committed yet', 'BookingNotCommitted');
        throw ApplicationFailure.nonRetryable('still missing: its hold rolled back', BOOKING_NOT_FOUND);
      },
    });
    const h = await start(input, m);
    await expect(h.result()).resolves.toEqual({ status: 'expired' });

    const calls = t.calls(h.workflowId);
    expect(calls.every((c) => c.name === 'bookingHoldState')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.map((c) => c.attempt)).toEqual(calls.map((_, i) => i + 1));
    const startedAt = (await h.describe()).startTime.getTime();
    expect(calls[calls.length - 1]!.at).toBeGreaterThanOrEqual(startedAt + 1_000);
    expect(m.releaseBookingHold).not.toHaveBeenCalled();
    expect(await statusOf(h)).toBe('expired');
    expect(await detailsOf(h)).toBe('No hold: the request that made it rolled back.');
  });

  it('any other failure reading the row fails the workflow (never taken for a missing hold)', async () => {
    const input = bookingInput({ holdExpiresAt: at(-1) });
    const m = mocks(input, {
      bookingHoldState: async () => {
        throw ApplicationFailure.nonRetryable('permission denied for table bookings', 'DatabaseError');
      },
    });
    const h = await start(input, m);
    const err = await h.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as { cause?: ApplicationFailure }).cause?.type).toBe('DatabaseError');
  });

  it('a hold used to move another booking (released) or already expired by a newer hold ends with that status, releasing nothing', async () => {
    for (const status of ['released', 'expired'] as const) {
      const input = bookingInput();
      const m = mocks(input, { bookingHoldState: async () => row(status, input) });
      const h = await start(input, m);
      await h.signal(bookingChangedSignal);
      await expect(h.result()).resolves.toEqual({ status });
      expect(t.callNames(h.workflowId)).toEqual(['bookingHoldState']);
      expect(await statusOf(h)).toBe(status);
    }
  });

  it('a lifecycle woken many times continues as new when suggested; the next run reads the row at once and carries on, nothing done twice', async () => {
    const input = bookingInput();
    const workflowId = bookingWorkflowId(input.bookingId);
    let over = false;
    const m = mocks(input, {
      bookingHoldState: async () => row('confirmed', input),
      bookingLifecyclePlan: async () => (over ? plan(input, 'completed', null, null) : plan(input, 'confirmed', null, 60_000)),
    });
    const h = await start(input, m);
    const firstRunId = h.firstExecutionRunId;

    // Each wake (a bookingChanged, e.g. a reschedule) adds a dozen events: signal until a second run is planning.
    const secondRunPlanned = () => t.calls(workflowId).some((c) => c.name === 'bookingLifecyclePlan' && c.runId !== firstRunId);
    for (let round = 0; round < 3 * CONTINUE_AS_NEW_SUGGESTED_AT && !secondRunPlanned(); round++) {
      const plans = count(h, 'bookingLifecyclePlan');
      await t.client.workflow.getHandle(workflowId).signal(bookingChangedSignal);
      await eventually(() => count(h, 'bookingLifecyclePlan') > plans || secondRunPlanned(), 10_000, `plan after wake ${round}`);
    }
    expect(secondRunPlanned()).toBe(true);

    over = true;
    await t.client.workflow.getHandle(workflowId).signal(bookingChangedSignal);
    await expect(t.client.workflow.getHandle(workflowId).result()).resolves.toEqual({ status: 'completed' });

    const first = t.client.workflow.getHandle(workflowId, firstRunId);
    expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
    const events = (await first.fetchHistory()).events!;
    const continued = events[events.length - 1]!.workflowExecutionContinuedAsNewEventAttributes!;
    expect(defaultPayloadConverter.fromPayload(continued.input!.payloads![0]!)).toEqual(input);
    // Bounded: the first run stopped not long after the server's suggestion.
    expect(events.length).toBeLessThan(CONTINUE_AS_NEW_SUGGESTED_AT + 30);

    const calls = t.calls(workflowId);
    const runs = [...new Set(calls.map((c) => c.runId))];
    expect(runs.length).toBeGreaterThanOrEqual(2);
    // The continued run read its row at once (no sleep to the hold's end) and went back to its plan.
    const second = calls.filter((c) => c.runId === runs[1]);
    expect(second.slice(0, 2).map((c) => c.name)).toEqual(['bookingHoldState', 'bookingLifecyclePlan']);
    expect(second[0]!.at).toBeLessThan(Date.parse(input.holdExpiresAt));
    // The first run read its hold once; no run released it.
    expect(calls.filter((c) => c.runId === firstRunId && c.name === 'bookingHoldState')).toHaveLength(1);
    expect(m.releaseBookingHold).not.toHaveBeenCalled();
    const lastRun = (await t.client.workflow.getHandle(workflowId).describe()).runId;
    expect(await historyEventTypes(t.client, workflowId, lastRun)).toContain('WORKFLOW_EXECUTION_COMPLETED');
    expect(await statusOf(t.client.workflow.getHandle(workflowId))).toBe('completed');
  });
});
