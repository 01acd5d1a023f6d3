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

export interface DrawCheck {
  ok: boolean;
  checks: Array<{ name: 'seed_commitment' | 'entries_hash' | 'ranking' | 'winners'; ok: boolean; detail?: string }>;
}

/**
 * Recomputes everything from the seed and the entry ids alone (the published ranking is only used as the set
 * of entries) and compares it with what was published.
 */
export function verifyDraw(d: PublishedDraw): DrawCheck {
  const ranking = rankEntries(d.seed, d.ranking);
  const firstDifference = ranking.findIndex((id, i) => id !== d.ranking[i]?.toLowerCase());
  const winners = ranking.slice(0, d.quantity);
  const sameWinners = winners.length === d.winners.length && winners.every((id, i) => id === d.winners[i]?.toLowerCase());
  const checks: DrawCheck['checks'] = [
    { name: 'seed_commitment', ok: seedCommitment(d.seed) === d.seed_commitment, detail: 'sha256(seed) against the commitment published at creation' },
    { name: 'entries_hash', ok: entriesHash(d.ranking) === d.entries_hash, detail: 'sha256 of the sorted entry ids against the hash published at close' },
    {
      name: 'ranking',
      ok: firstDifference === -1 && new Set(d.ranking).size === d.ranking.length,
      ...(firstDifference === -1 ? {} : { detail: `first difference at rank ${firstDifference + 1}` }),
    },
    { name: 'winners', ok: sameWinners, detail: `the first ${d.quantity} of the recomputed ranking` },
  ];
  return { ok: checks.every((c) => c.ok), checks };
}
