import type { Knex } from 'knex';
import type { PledgeRow } from './pledgeRow';
import { pledgeRefusals } from './pledgeRefusals';

/** Reads and guarded writes of pledge rows that several pledge services share. */

type Conn = Knex | Knex.Transaction;

export async function loadPledge(db: Conn, id: string): Promise<PledgeRow | undefined> {
  return (await db('pledges').where({ id }).first()) as PledgeRow | undefined;
}

/**
 * Claims the pledge's next revision while it is still as it was read. The number names the next payment (so
 * concurrent changes never share a business key), and a later commit that finds another revision knows the
 * pledge was changed meanwhile.
 */
export async function reserveRevision(db: Conn, pledge: Pick<PledgeRow, 'id' | 'status' | 'revision'>): Promise<number> {
  const [row] = (await db('pledges')
    .where({ id: pledge.id, status: pledge.status, revision: pledge.revision })
    .update({ revision: pledge.revision + 1, updated_at: db.fn.now() })
    .returning('revision')) as Array<{ revision: number }>;
  if (!row) throw pledgeRefusals.pledgeChanged();
  return row.revision;
}

/** A campaign takes pledges and changes to them only while live and before its deadline. */
export function acceptsPledges(campaign: { status: string; ends_at: Date }, now: Date): boolean {
  return campaign.status === 'live' && campaign.ends_at.getTime() > now.getTime();
}
