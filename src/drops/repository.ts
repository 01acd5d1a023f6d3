import type { Knex } from 'knex';
import { refusals } from '../domain/errors';
import type { Db } from '../infra/db';
import type { DropMode, DropStatus, DropWorkflowInput } from './contract';

/**
 * Drop rows: loading, locking and the one JSON shape the API answers with. The seed never leaves this module
 * except through `drawSecret` (the draw itself, and GET /draw once the draw is published).
 */

type Conn = Db | Knex.Transaction;

export interface DropRow {
  id: string;
  store_id: string;
  variant_id: string;
  created_by: string;
  mode: DropMode;
  status: DropStatus;
  quantity: number;
  sold: number;
  price_cents: number;
  currency: string;
  opens_at: Date;
  closes_at: Date | null;
  claim_window_seconds: number;
  admission_per_second: number;
  seed_commitment: string;
  entries_hash: string | null;
  entries_count: number | null;
  drawn_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

// Never `*`: the row holds the seed, which is secret until the draw.
export const DROP_COLUMNS = [
  'id',
  'store_id',
  'variant_id',
  'created_by',
  'mode',
  'status',
  'quantity',
  'sold',
  'price_cents',
  'currency',
  'opens_at',
  'closes_at',
  'claim_window_seconds',
  'admission_per_second',
  'seed_commitment',
  'entries_hash',
  'entries_count',
  'drawn_at',
  'created_at',
  'updated_at',
] as const;

/** A drops row as read (numeric comes back from pg as a string). */
export function dropFromRow(row: Record<string, unknown>): DropRow {
  return { ...(row as unknown as DropRow), admission_per_second: Number(row.admission_per_second), price_cents: Number(row.price_cents) };
}


export async function loadDrop(db: Conn, dropId: string): Promise<DropRow | undefined> {
  const row = (await db('drops').where({ id: dropId }).first(DROP_COLUMNS)) as Record<string, unknown> | undefined;
  return row && dropFromRow(row);
}

/** How a drop of the other mode is refused, by the mode the caller wanted. */
const OTHER_MODE: Record<DropMode, { code: string; detail: string }> = {
  lottery: { code: 'not_a_lottery', detail: 'This drop is first-come-first-served; join its queue instead.' },
  fcfs: { code: 'not_first_come', detail: 'This drop is a lottery; enter it with POST /v1/drops/{id}/entries instead.' },
};

/** The refusal of a drop of the other mode, by the mode the caller wanted. */
const wrongMode = (mode: DropMode) => refusals.conflict(OTHER_MODE[mode].code, OTHER_MODE[mode].detail);
export const notFirstCome = () => wrongMode('fcfs');

/** The drop, when it is one of `mode`: not_found without one, conflict for a drop of the other mode. */
export async function dropOfMode(db: Conn, dropId: string, mode: DropMode): Promise<DropRow> {
  const d = await loadDrop(db, dropId);
  if (!d) throw refusals.notFound('drop');
  if (d.mode !== mode) throw wrongMode(mode);
  return d;
}

/** The drop row locked FOR UPDATE: every change to a drop's phase, sold count or winners goes through this lock. */
export async function lockDrop(trx: Knex.Transaction, dropId: string): Promise<DropRow | undefined> {
  const row = (await trx('drops').where({ id: dropId }).forUpdate().first(DROP_COLUMNS)) as Record<string, unknown> | undefined;
  return row && dropFromRow(row);
}

/** The seed, for the draw and for publishing it afterwards; never for anything shown before the draw. */
export async function drawSecret(db: Conn, dropId: string): Promise<string | undefined> {
  const row = (await db('drops').where({ id: dropId }).first('seed')) as { seed: string } | undefined;
  return row?.seed;
}

/** The workflow input a drop row stands for (also what a continue-as-new passes on). */
export function dropWorkflowInput(row: DropRow): DropWorkflowInput {
  return {
    dropId: row.id,
    storeId: row.store_id,
    variantId: row.variant_id,
    mode: row.mode,
    quantity: row.quantity,
    priceCents: row.price_cents,
    currency: row.currency,
    opensAt: row.opens_at.toISOString(),
    closesAt: row.closes_at?.toISOString() ?? null,
    claimWindowSeconds: row.claim_window_seconds,
    admissionPerSecond: row.admission_per_second,
  };
}

export interface DropJson {
  id: string;
  store_id: string;
  variant_id: string;
  mode: DropMode;
  status: DropStatus;
  quantity: number;
  sold: number;
  remaining: number;
  price_cents: number;
  currency: string;
  opens_at: string;
  closes_at: string | null;
  claim_window_seconds: number;
  admission_per_second: number;
  seed_commitment: string;
  entries_hash: string | null;
  entries_count?: number;
  drawn_at: string | null;
  created_at: string;
}

/**
 * The public shape of a drop. `entries_count` (lottery only) is the published count once drawn, else the live
 * count the caller passes (undefined to leave it out).
 */
export function dropJson(row: DropRow, liveEntries?: number): DropJson {
  const entries = row.entries_count ?? liveEntries;
  return {
    id: row.id,
    store_id: row.store_id,
    variant_id: row.variant_id,
    mode: row.mode,
    status: row.status,
    quantity: row.quantity,
    sold: row.sold,
    remaining: row.quantity - row.sold,
    price_cents: row.price_cents,
    currency: row.currency,
    opens_at: row.opens_at.toISOString(),
    closes_at: row.closes_at?.toISOString() ?? null,
    claim_window_seconds: row.claim_window_seconds,
    admission_per_second: row.admission_per_second,
    seed_commitment: row.seed_commitment,
    entries_hash: row.entries_hash,
    ...(row.mode === 'lottery' && entries !== undefined ? { entries_count: entries } : {}),
    drawn_at: row.drawn_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/** Entries so far (before the draw publishes the count). */
export async function countEntries(db: Conn, dropId: string): Promise<number> {
  const [row] = await db('drop_entries').where({ drop_id: dropId }).count<{ count: string }[]>('* as count');
  return Number(row!.count);
}

/** Loads and renders; not_found when there is no such drop. */
export async function renderDrop(db: Conn, dropId: string): Promise<DropJson> {
  const row = await loadDrop(db, dropId);
  if (!row) throw refusals.notFound('drop');
  return dropJson(row, row.mode === 'lottery' && row.entries_count === null ? await countEntries(db, dropId) : undefined);
}
