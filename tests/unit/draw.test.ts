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

  it('catches consistent tampering once the commitment, entries hash, quantity and own entry known beforehand are given', () => {
    const honest = published();
    const failing = (d: PublishedDraw, known = {}) => verifyDraw(d, known).checks.filter((c) => !c.ok).map((c) => c.name);
    const known = { commitment: honest.seed_commitment, entriesHash: honest.entries_hash, quantity: 5, entries: [ids[7]!] };
    expect(verifyDraw(honest, known)).toMatchObject({ ok: true });
    expect(verifyDraw(honest, known).checks.filter((c) => c.independent).map((c) => c.name)).toEqual(['seed_commitment', 'entries_hash', 'quantity', 'entry', 'winners']);

    // Another seed with its own commitment: consistent with itself, not with the commitment published at creation.
    const seed2 = 'c'.repeat(64);
    const ranking2 = rankEntries(seed2, ids);
    const swappedSeed = { ...honest, seed: seed2, seed_commitment: seedCommitment(seed2), ranking: ranking2, winners: ranking2.slice(0, 5) };
    expect(failing(swappedSeed)).toEqual([]);
    expect(failing(swappedSeed, known)).toEqual(['seed_commitment']);

    // An entry left out and the hash recomputed: consistent with itself, not with the hash published at close.
    const fewer = rankEntries(seed, ids.filter((id) => id !== ids[7]));
    const dropped = { ...honest, entries_hash: entriesHash(fewer), ranking: fewer, winners: fewer.slice(0, 5) };
    expect(failing(dropped)).toEqual([]);
    expect(failing(dropped, known)).toEqual(['entries_hash', 'entry']);

    // Fewer winners than announced.
    expect(failing({ ...honest, quantity: 4, winners: honest.winners.slice(0, 4) }, known)).toEqual(['quantity', 'winners']);
  });

  it('counts an id that appears twice in different case as a duplicate', () => {
    const honest = published();
    const twice = rankEntries(seed, [...ids, ids[3]!]);
    const at = twice.indexOf(ids[3]!.toLowerCase());
    twice[at] = twice[at]!.toUpperCase();
    expect(verifyDraw({ ...honest, ranking: twice, entries_hash: entriesHash(twice), winners: twice.slice(0, 5).map((id) => id.toLowerCase()) }).checks.find((c) => c.name === 'ranking')).toMatchObject({
      ok: false,
      detail: 'an entry id appears twice',
    });
  });
});
