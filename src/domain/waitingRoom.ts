/**
 * The first-come waiting room's rules (DESIGN.md, "Drops rules"), as pure functions shared by the API, the
 * activities and the `drop:<id>` workflow (so nothing here may touch I/O, clocks or node modules).
 *
 * Serving order: arrivals before opens_at are shuffled when the room opens (positions 1..P, by the drop's
 * seeded ranking), later arrivals are first-in-first-out after them (P+1, P+2, ...). A position is given once
 * and never reused, so it identifies a place in the line; "ahead" is how many are still waiting before it.
 *
 * Pace: admission runs in ticks of `tickMs`, at most `batch` shoppers a tick, so any window of `tickMs` (and
 * therefore any second) admits no more than the configured rate: batch / tick <= admission_per_second.
 */

export type QueueStatus = 'waiting' | 'admitted' | 'purchased' | 'left' | 'expired' | 'closed';

/** Statuses a shopper can join again from (at the back of the line): they gave their place up. */
export const REJOINABLE: readonly QueueStatus[] = ['left', 'expired'];

export interface AdmissionPace {
  tickMs: number;
  batch: number;
}

/**
 * Ticks of at least a second; slower rates stretch the tick so every tick admits at least one shopper.
 * E.g. 10/s → 10 per 1 s; 2.5/s → 2 per 1 s; 0.5/s → 1 per 2 s.
 */
export function admissionPace(admissionPerSecond: number): AdmissionPace {
  if (!(admissionPerSecond > 0) || !Number.isFinite(admissionPerSecond)) throw new RangeError('admission_per_second must be a positive number');
  const tickMs = Math.max(1000, Math.ceil(1000 / admissionPerSecond));
  const batch = Math.max(1, Math.floor((admissionPerSecond * tickMs) / 1000));
  return { tickMs, batch };
}

/**
 * How many to admit now: never more than the tick's batch minus those admitted within the last tick (a
 * retried step cannot admit a second batch), than the free units, or than who is waiting.
 */
export function admissionsNow(input: { pace: AdmissionPace; admittedThisTick: number; quantity: number; sold: number; holding: number; waiting: number }): number {
  const { pace, admittedThisTick, quantity, sold, holding, waiting } = input;
  const free = quantity - sold - holding;
  return Math.max(0, Math.min(pace.batch - admittedThisTick, free, waiting));
}

/**
 * Seconds until a shopper with `ahead` waiting before them is admitted, if units stay free: the ticks it takes
 * to admit those ahead (the shopper goes in the tick after them), plus the time until the room opens.
 * Slots held by admitted shoppers can make the real wait longer; it is an estimate, shown as such.
 */
export function etaSeconds(input: { ahead: number; admissionPerSecond: number; msUntilOpen?: number }): number {
  const pace = admissionPace(input.admissionPerSecond);
  const ticks = Math.floor(Math.max(0, input.ahead) / pace.batch);
  return Math.ceil((Math.max(0, input.msUntilOpen ?? 0) + ticks * pace.tickMs) / 1000);
}

/**
 * The ETA of someone who arrived before the opening, while the shuffle is not done: on average half of the
 * others who arrived early will be served first.
 */
export function preOpenAhead(preOpenArrivals: number): number {
  return Math.floor(Math.max(0, preOpenArrivals - 1) / 2);
}

/** What the room looks like after an admission step, as the workflow sees it (counts only). */
export interface RoomState {
  quantity: number;
  sold: number;
  /** Admitted shoppers whose hold is live (or whose cart is being opened). */
  holding: number;
  waiting: number;
  /** Admitted by this step. */
  admittedNow: number;
  /** Milliseconds until the next tick may admit (0 when it may now). */
  msUntilNextTick: number;
  /** Milliseconds until the earliest admitted shopper's hold ends, or null without holds. */
  msUntilNextExpiry: number | null;
  /** The variant's stock ran out under the drop (sold elsewhere): no unit could be reserved for the next shopper. */
  stockShort: boolean;
}

export type RoomDecision =
  | { kind: 'sold_out' }
  /** Wait this long (or until nudged, when `wakeOnChange`), then run the next step. */
  | { kind: 'wait'; ms: number; wakeOnChange: boolean; reason: 'pace' | 'holds' | 'stock' | 'idle' };

/**
 * What the sale does after a step. Sold out only when every unit is sold. Otherwise: more to admit → the next
 * tick (the pace is not shortened by nudges); all units held → until the first hold ends or someone leaves,
 * checking purchases every `pollMs`; the variant short with nobody holding → every `pollMs` (or a nudge) until
 * stock comes back; nobody waiting → until someone joins (they nudge an idle room) or `idleMs`.
 *
 * A short variant never ends the sale: drops share the variant's stock with ordinary carts, whose holds come
 * back within RESERVATION_TTL (and a merchant may restock), so the shortage is usually temporary.
 */
export function decide(s: RoomState, opts: { pollMs: number; idleMs: number; slackMs?: number }): RoomDecision {
  if (s.sold >= s.quantity) return { kind: 'sold_out' };
  const free = s.quantity - s.sold - s.holding;
  if (s.waiting > 0 && free > 0 && !s.stockShort) return { kind: 'wait', ms: Math.max(1, s.msUntilNextTick), wakeOnChange: false, reason: 'pace' };
  if (s.holding > 0) {
    const expiry = s.msUntilNextExpiry === null ? opts.pollMs : s.msUntilNextExpiry + (opts.slackMs ?? 100);
    return { kind: 'wait', ms: Math.max(1, Math.min(opts.pollMs, expiry)), wakeOnChange: true, reason: 'holds' };
  }
  if (s.stockShort) return { kind: 'wait', ms: Math.max(1, opts.pollMs), wakeOnChange: true, reason: 'stock' };
  return { kind: 'wait', ms: opts.idleMs, wakeOnChange: true, reason: 'idle' };
}
