import argon2 from 'argon2';
import { hashPassword, needsRehash, verifyAgainstDecoy, verifyPassword } from '../../src/accounts/passwords';

describe('password hashing', () => {
  it('produces argon2id hashes with the OWASP parameters (19 MiB, 2 passes, 1 lane)', async () => {
    const hash = await hashPassword('correct horse battery staple');
    const [, algorithm, version, params] = hash.split('$');
    expect([algorithm, version]).toEqual(['argon2id', 'v=19']);
    expect(Object.fromEntries((params ?? '').split(',').map((kv) => kv.split('=')))).toEqual({ m: '19456', t: '2', p: '1' });
    expect(hash).not.toContain('correct horse');
  });

  it('salts every hash, so equal passwords hash differently', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a).not.toBe(b);
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const hash = await hashPassword('s3cret-passphrase');
    await expect(verifyPassword(hash, 's3cret-passphrase')).resolves.toBe(true);
    await expect(verifyPassword(hash, 's3cret-passphrasE')).resolves.toBe(false);
  });

  it('answers false, not an exception, for a stored value that is not an argon2 hash', async () => {
    await expect(verifyPassword('not-a-hash', 'whatever')).resolves.toBe(false);
  });

  it('asks for a rehash only when a hash was made with other parameters', async () => {
    expect(needsRehash(await hashPassword('pw-123456'))).toBe(false);
    const weak = await argon2.hash('pw-123456', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    expect(needsRehash(weak)).toBe(true);
  });

  it('the decoy check for unknown accounts never succeeds', async () => {
    await expect(verifyAgainstDecoy('decoy password that no account has')).resolves.toBe(false);
  });
});
