import { randomUUID } from 'node:crypto';
import { notify } from '../../src/notifications/notify';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';

/** GET /v1/me/notifications and POST /v1/me/notifications/{id}/read. */
let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig());
});
afterAll(() => ctx.close());

async function userWithNotifications(count: number): Promise<{ userId: string; auth: string; keys: string[] }> {
  const { id: userId, auth } = await makeUser(ctx.deps);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `inbox:${randomUUID()}`;
    keys.push(key);
    // Several in one transaction share created_at (now() is the transaction's start): ties must page correctly.
    await notify(ctx.deps.db, { userId, type: 'pledge_received', title: `n${i}`, body: `body ${i}`, data: { i }, dedupeKey: key });
  }
  return { userId, auth, keys };
}

describe('inbox', () => {
  it('lists my notifications newest first, with keyset pagination', async () => {
    const { auth } = await userWithNotifications(5);
    const first = await ctx.http.get('/v1/me/notifications?limit=2').set('Authorization', auth);
    expect(first.status).toBe(200);
    expect(first.body.data.map((n: { title: string }) => n.title)).toEqual(['n4', 'n3']);
    expect(first.body.data[0]).toEqual({
      id: expect.any(String),
      type: 'pledge_received',
      title: 'n4',
      body: 'body 4',
      data: { i: 4 },
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      read_at: null,
    });
    expect(first.body.next_cursor).toEqual(expect.any(String));

    const second = await ctx.http.get(`/v1/me/notifications?limit=2&cursor=${first.body.next_cursor}`).set('Authorization', auth);
    expect(second.body.data.map((n: { title: string }) => n.title)).toEqual(['n2', 'n1']);
    const third = await ctx.http.get(`/v1/me/notifications?limit=2&cursor=${second.body.next_cursor}`).set('Authorization', auth);
    expect(third.body.data.map((n: { title: string }) => n.title)).toEqual(['n0']);
    expect(third.body.next_cursor).toBeNull();
  });

  it('pages through notifications that share a timestamp without skipping or repeating', async () => {
    const { id: userId, auth } = await makeUser(ctx.deps);
    await ctx.deps.db.transaction(async (trx) => {
      for (let i = 0; i < 7; i++) await notify(trx, { userId, type: 't', title: `same-${i}`, dedupeKey: `tie:${randomUUID()}` });
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { data: { id: string }[]; next_cursor: string | null } } = await ctx.http
        .get(`/v1/me/notifications?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
        .set('Authorization', auth);
      seen.push(...res.body.data.map((n) => n.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });

  it('marks one of my notifications as read (once), filters unread, and hides others\' notifications', async () => {
    const me = await userWithNotifications(3);
    const other = await userWithNotifications(1);
    const list = await ctx.http.get('/v1/me/notifications').set('Authorization', me.auth);
    const target = list.body.data[1];

    const read = await ctx.http.post(`/v1/me/notifications/${target.id}/read`).set('Authorization', me.auth);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: target.id, read_at: expect.any(String) });
    const again = await ctx.http.post(`/v1/me/notifications/${target.id}/read`).set('Authorization', me.auth);
    expect(again.body.read_at).toBe(read.body.read_at);

    const unread = await ctx.http.get('/v1/me/notifications?unread=true').set('Authorization', me.auth);
    expect(unread.body.data.map((n: { id: string }) => n.id)).toEqual(list.body.data.filter((n: { id: string }) => n.id !== target.id).map((n: { id: string }) => n.id));

    const othersId = (await ctx.http.get('/v1/me/notifications').set('Authorization', other.auth)).body.data[0].id;
    const forbidden = await ctx.http.post(`/v1/me/notifications/${othersId}/read`).set('Authorization', me.auth);
    expect(forbidden.status).toBe(404);
    expect(forbidden.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((await ctx.deps.db('notifications').where({ id: othersId }).first()).read_at).toBeNull();
    expect((await ctx.http.post(`/v1/me/notifications/${randomUUID()}/read`).set('Authorization', me.auth)).status).toBe(404);
  });

  it('rejects bad input and anonymous callers', async () => {
    const { auth } = await userWithNotifications(1);
    expect((await ctx.http.get('/v1/me/notifications')).status).toBe(401);
    for (const q of ['limit=0', 'limit=abc', 'unread=maybe', 'cursor=bm90LWEtdXVpZA', `cursor=${Buffer.from(randomUUID()).toString('base64url')}`]) {
      const res = await ctx.http.get(`/v1/me/notifications?${q}`).set('Authorization', auth);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
  });
});
