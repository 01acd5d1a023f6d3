/**
 * The drop workflow's input (`drop:<id>`), shared by the lottery phases (src/workflows/drop.ts) and the
 * first-come sale (src/workflows/fcfsSale.ts). Only ids, counts and times: entries, rankings and queue places
 * live in Postgres, never in workflow history (a drop can have 100k entrants).
 */
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
