import { createHash, createHmac } from 'node:crypto';

/**
 * The verifiable lottery draw (DESIGN.md, "Drops rules"), as pure functions shared by the draw activity and
 * the independent verifier (scripts/verify-draw.ts). Anyone holding the published data can recompute it:
 *
 *   seed_commitment = sha256_hex(seed)                      published when the drop is created
 *   entries_hash    = sha256_hex(sorted entry ids joined by "\n")   published when registration closes
 *   score(entry)    = hmac_sha256_hex(key = seed, message = entry id)
 *   ranking         = entry ids sorted by score ascending (ties, never seen in practice, by entry id)
 *   winners         = the first `quantity` of the ranking; the rest are the waitlist, in ranking order
 *
 * Ids are lower-case UUID strings and sorting is by code unit, so no database collation is involved. The seed
 * is the hex string itself (its UTF-8 bytes are the key), which is what the commitment hashes too.
 */

export const DRAW_ALGORITHM =
  'ranking = entry ids sorted ascending by HMAC-SHA256(key = seed, message = entry id) in hex; ' +
  'winners = first `quantity`; seed_commitment = SHA-256(seed); entries_hash = SHA-256(sorted entry ids joined by "\\n")';

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export const seedCommitment = (seed: string): string => sha256Hex(seed);

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** sha256 over the entry ids sorted ascending, one per line (no trailing newline). */
export function entriesHash(entryIds: readonly string[]): string {
  return sha256Hex([...entryIds].map((id) => id.toLowerCase()).sort(byCodeUnit).join('\n'));
}

export const drawScore = (seed: string, entryId: string): string => createHmac('sha256', seed).update(entryId.toLowerCase(), 'utf8').digest('hex');

/** The entry ids in draw order (rank 1 first). */
export function rankEntries(seed: string, entryIds: readonly string[]): string[] {
  return entryIds
    .map((id) => ({ id: id.toLowerCase(), score: drawScore(seed, id) }))
    .sort((a, b) => byCodeUnit(a.score, b.score) || byCodeUnit(a.id, b.id))
    .map((e) => e.id);
}

export interface PublishedDraw {
  seed: string;
  seed_commitment: string;
  entries_hash: string;
  quantity: number;
  ranking: string[];
  winners: string[];
}

/**
 * What the checker recorded earlier, independently of the post-draw response: without these, a draw tampered
 * consistently (another seed with its own commitment, an entry dropped and the hash recomputed) checks out.
 */
export interface KnownDrawValues {
  /** seed_commitment as published when the drop was created. */
  commitment?: string;
  /** entries_hash as published when registration closed. */
  entriesHash?: string;
  /** The drop's quantity as announced. */
  quantity?: number;
  /** The checker's own entry ids: each must be in the ranking. */
  entries?: string[];
}

export interface DrawCheck {
  ok: boolean;
  checks: Array<{
    name: 'seed_commitment' | 'entries_hash' | 'quantity' | 'entry' | 'ranking' | 'winners';
    ok: boolean;
    /** Checked against a value the checker knew before this response (KnownDrawValues), not just against the response itself. */
    independent: boolean;
    detail?: string;
  }>;
}

const sameHex = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Recomputes everything from the seed and the entry ids alone (the published ranking is only used as the set
 * of entries) and compares it with what was published, and with the values known beforehand where given.
 */
export function verifyDraw(d: PublishedDraw, known: KnownDrawValues = {}): DrawCheck {
  const ids = d.ranking.map((id) => id.toLowerCase());
  const ranking = rankEntries(d.seed, ids);
  const firstDifference = ranking.findIndex((id, i) => id !== ids[i]);
  const quantity = known.quantity ?? d.quantity;
  const winners = ranking.slice(0, quantity);
  const sameWinners = winners.length === d.winners.length && winners.every((id, i) => id === d.winners[i]?.toLowerCase());
  const commitment = known.commitment ?? d.seed_commitment;
  const hash = known.entriesHash ?? d.entries_hash;
  const missing = (known.entries ?? []).filter((id) => !ids.includes(id.toLowerCase()));
  const checks: DrawCheck['checks'] = [
    {
      name: 'seed_commitment',
      ok: sameHex(seedCommitment(d.seed), commitment) && sameHex(d.seed_commitment, commitment),
      independent: known.commitment !== undefined,
      detail: known.commitment !== undefined ? 'sha256(seed) against the commitment recorded at creation' : 'sha256(seed) against the commitment in this same response only',
    },
    {
      name: 'entries_hash',
      ok: sameHex(entriesHash(ids), hash) && sameHex(d.entries_hash, hash),
      independent: known.entriesHash !== undefined,
      detail: known.entriesHash !== undefined ? 'sha256 of the sorted entry ids against the hash recorded at close' : 'sha256 of the sorted entry ids against the hash in this same response only',
    },
    ...(known.quantity !== undefined ? [{ name: 'quantity' as const, ok: d.quantity === known.quantity, independent: true, detail: `published ${d.quantity}, announced ${known.quantity}` }] : []),
    ...(known.entries?.length
      ? [{ name: 'entry' as const, ok: missing.length === 0, independent: true, detail: missing.length ? `not in the ranking: ${missing.join(', ')}` : `${known.entries.length} known entr${known.entries.length === 1 ? 'y' : 'ies'} in the ranking` }]
      : []),
    {
      name: 'ranking',
      ok: firstDifference === -1 && new Set(ids).size === ids.length,
      independent: false,
      ...(firstDifference === -1 ? (new Set(ids).size === ids.length ? {} : { detail: 'an entry id appears twice' }) : { detail: `first difference at rank ${firstDifference + 1}` }),
    },
    { name: 'winners', ok: sameWinners, independent: known.quantity !== undefined, detail: `the first ${quantity} of the recomputed ranking` },
  ];
  return { ok: checks.every((c) => c.ok), checks };
}
