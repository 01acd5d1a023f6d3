import { defineSignal } from '@temporalio/workflow';

/**
 * The drops domain's workflow contract: the id, type name, signals, input and failure names of `drop:<id>`
 * (src/workflows/drops/drop.ts, which runs the first-come sale of src/workflows/drops/fcfsSale.ts). A leaf:
 * workflows, activities, the API and tests import it; it imports nothing with I/O.
 */

export const DROP_WORKFLOW = 'drop';
export const dropWorkflowId = (dropId: string) => `drop:${dropId}`;
export type DropWorkflow = (input: DropRunInput) => Promise<void>;

export type DropMode = 'lottery' | 'fcfs';

export type DropStatus = 'scheduled' | 'open' | 'drawing' | 'claiming' | 'sold_out' | 'closed';

export interface DropWorkflowInput {
  dropId: string;
  storeId: string;
  variantId: string;
  mode: DropMode;
  quantity: number;
  priceCents: number;
  currency: string;
  /** ISO instants. */
  opensAt: string;
  closesAt: string | null;
  claimWindowSeconds: number;
  admissionPerSecond: number;
}

/** The workflow's input: the drop's, plus how long a missing row may still be uncommitted (tests shorten it). */
export type DropRunInput = DropWorkflowInput & { rowGraceMs?: number };

/**
 * Sent by the claim that sold the last unit (the drop ends at once, not at the next window's end), or by one
 * that ended after its window (a running claim holds its window open; the timer was set for its hold's end).
 */
export const dropClaimedSignal = defineSignal('dropClaimed');

/** Someone left with a hold, or joined an idle room: look again now. */
export const queueChangedSignal = defineSignal('queueChanged');

/** dropPhase's failure once the row is still missing well after the start: the creating request rolled back. */
export const DROP_NOT_FOUND = 'DropNotFound';
