import { createHash, createHmac, randomUUID } from 'node:crypto';
import { entriesHash, rankEntries, seedCommitment, verifyDraw, type PublishedDraw } from '../../src/domain/draw';

/** The draw's published algorithm, pinned against node:crypto directly, and the verifier's checks. */
describe('draw', () => {
  const seed = 'a'.repeat(64);
  const ids = Array.from({ length: 50 }, () => randomUUID());

  function published(quantity = 5): PublishedDraw {
    const ranking = rankEntries(seed, ids);
    return { seed, seed_commitment: seedCommitment(seed), entries_hash: entriesHash(ids), quantity, ranking, winners: ranking.slice(0, quantity) };
  }

  it('commits to sha256(seed) and hashes the sorted entry ids one per line, whatever their order', () => {
    expect(seedCommitment(seed)).toBe(createHash('sha256').update(seed).digest('hex'));
    const sorted = [...ids].sort();
    expect(entriesHash(ids)).toBe(createHash('sha256').update(sorted.join('\n')).digest('hex'));
    expect(entriesHash([...ids].reverse())).toBe(entriesHash(ids));
  });

  it('ranks by HMAC-SHA256(seed, entry id) ascending, independent of the input order', () => {
    const expected = [...ids].sort((a, b) => createHmac('sha256', seed).update(a).digest('hex').localeCompare(createHmac('sha256', seed).update(b).digest('hex')));
    expect(rankEntries(seed, ids)).toEqual(expected);
    expect(rankEntries(seed, [...ids].reverse())).toEqual(expected);
    expect(rankEntries('b'.repeat(64), ids)).not.toEqual(expected);
  });

  it('verifies an honest draw', () => {
    expect(verifyDraw(published())).toEqual({ ok: true, checks: expect.any(Array) });
  });

  it('catches a swapped seed, a reordered ranking, changed winners and a changed entry set', () => {
    const failing = (d: PublishedDraw) => verifyDraw(d).checks.filter((c) => !c.ok).map((c) => c.name);
    const honest = published();
    expect(failing({ ...honest, seed: 'b'.repeat(64) })).toEqual(expect.arrayContaining(['seed_commitment', 'ranking']));
    const swapped = [...honest.ranking];
    [swapped[0], swapped[10]] = [swapped[10]!, swapped[0]!];
    expect(failing({ ...honest, ranking: swapped, winners: swapped.slice(0, 5) })).toEqual(['ranking', 'winners']);
    expect(failing({ ...honest, winners: [...honest.winners.slice(0, 4), honest.ranking[7]!] })).toEqual(['winners']);
    expect(failing({ ...honest, ranking: honest.ranking.slice(1) })).toContain('entries_hash');
  });
});
