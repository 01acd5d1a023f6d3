/**
 * The lottery draw recomputed in the browser with Web Crypto, the same rules as src/domain/draw.ts (and
 * `npm run verify-draw`): seed_commitment = SHA-256(seed); entries_hash = SHA-256(sorted entry ids joined by
 * "\n"); score = HMAC-SHA256(key = seed, message = entry id) in hex; ranking = ids by score ascending (ties by
 * id); winners = the first `quantity`. Strings are compared by code unit, as there.
 */
const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (buf: ArrayBuffer) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export const sha256Hex = async (s: string): Promise<string> => hex(await crypto.subtle.digest('SHA-256', utf8(s)));

export interface ScoredEntry {
  id: string;
  score: string;
}

/** Every entry scored with the seed, in draw order (rank 1 first). */
export async function rankEntries(seed: string, entryIds: readonly string[]): Promise<ScoredEntry[]> {
  const key = await crypto.subtle.importKey('raw', utf8(seed), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const scored = await Promise.all(
    entryIds.map(async (raw) => {
      const id = raw.toLowerCase();
      return { id, score: hex(await crypto.subtle.sign('HMAC', key, utf8(id))) };
    }),
  );
  return scored.sort((a, b) => byCodeUnit(a.score, b.score) || byCodeUnit(a.id, b.id));
}

export interface PublishedDraw {
  seed: string;
  seed_commitment: string;
  entries_hash: string;
  ranking: string[];
  winners: string[];
}

/** What the drop announced apart from the draw's own response: its commitment, entries hash and quantity. */
export interface Announced {
  seed_commitment: string;
  entries_hash: string | null;
  quantity: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DrawVerification {
  ok: boolean;
  checks: Check[];
  ranking: ScoredEntry[];
}

const same = (a: string | null | undefined, b: string | null | undefined) => !!a && !!b && a.toLowerCase() === b.toLowerCase();

/** Recomputes the draw from its seed and entry ids and compares each published value with the recomputation. */
export async function verifyDraw(draw: PublishedDraw, announced: Announced, myEntryId?: string): Promise<DrawVerification> {
  const ids = draw.ranking.map((id) => id.toLowerCase());
  const ranking = await rankEntries(draw.seed, ids);
  const commitment = await sha256Hex(draw.seed);
  const entriesHash = await sha256Hex([...ids].sort(byCodeUnit).join('\n'));
  const firstDifference = ranking.findIndex((e, i) => e.id !== ids[i]);
  const winners = ranking.slice(0, announced.quantity).map((e) => e.id);
  const sameWinners = winners.length === draw.winners.length && winners.every((id, i) => id === draw.winners[i]?.toLowerCase());
  const checks: Check[] = [
    {
      name: 'Seed commitment',
      ok: same(commitment, announced.seed_commitment) && same(draw.seed_commitment, announced.seed_commitment),
      detail: 'SHA-256 of the revealed seed equals the commitment published when the drop was created',
    },
    {
      name: 'Entries hash',
      ok: same(entriesHash, announced.entries_hash) && same(draw.entries_hash, announced.entries_hash),
      detail: 'SHA-256 of the sorted entry ids equals the hash published when registration closed',
    },
    {
      name: 'Ranking',
      ok: firstDifference === -1 && new Set(ids).size === ids.length,
      detail: firstDifference === -1 ? `all ${ids.length} entries in the order HMAC-SHA256(seed, entry id) gives` : `first difference at rank ${firstDifference + 1}`,
    },
    { name: 'Winners', ok: sameWinners, detail: `the first ${announced.quantity} of the recomputed ranking` },
  ];
  if (myEntryId) {
    const at = ids.indexOf(myEntryId.toLowerCase());
    checks.push({ name: 'Your entry', ok: at >= 0, detail: at >= 0 ? `in the draw at rank ${at + 1}` : 'not in the published ranking' });
  }
  return { ok: checks.every((c) => c.ok), checks, ranking };
}
