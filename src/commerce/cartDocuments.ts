import type { RedisClient } from '../infra/redis';
import { LuaScript } from './luaScript';

/**
 * Cart documents: the shopper's cart in Redis, one key per cart, JSON. The document says what the shopper
 * wants and at what price each line was added; Postgres reservations are the truth for stock. The key expires
 * after the cart's TTL (guests and signed-in shoppers differ) and every change refreshes it. A lost document
 * loses no stock: the hold-expiry sweepers release its holds when the reservation TTL runs out.
 *
 * Line changes run as Lua scripts, so concurrent changes to one cart never overwrite each other.
 */

export interface CartItem {
  variant_id: string;
  quantity: number;
  unit_price_cents: number;
}

export interface CartDoc {
  id: string;
  store_id: string;
  store_slug: string;
  currency: string;
  /** The signed-in owner, or null for a guest cart (addressed by its unguessable id alone). */
  owner_id: string | null;
  items: CartItem[];
  created_at: string;
  /**
   * Set on carts a drop opens for its winner or admitted shopper: their lines are priced by the drop (not the
   * catalog), and the checkout's price check reads the drop's price.
   */
  drop_id?: string;
}

export interface StoredCart {
  doc: CartDoc;
  /** When the document expires unless the cart is touched again. */
  expiresAt: Date;
}

export const cartKey = (cartId: string) => `cart:v1:{${cartId}}`;

function parse(raw: string, pttl: number): StoredCart | undefined {
  let doc: CartDoc;
  try {
    doc = JSON.parse(raw) as CartDoc;
  } catch {
    return undefined;
  }
  // cjson encodes an empty table as an object
  if (!Array.isArray(doc.items)) doc.items = [];
  return { doc, expiresAt: new Date(Date.now() + Math.max(0, pttl)) };
}

export async function createCart(redis: RedisClient, doc: CartDoc, ttlMs: number): Promise<StoredCart> {
  await redis.set(cartKey(doc.id), JSON.stringify(doc), 'PX', ttlMs);
  return { doc, expiresAt: new Date(Date.now() + ttlMs) };
}

/** The cart's document alone (no TTL read): for a change, whose answer carries the TTL the change set. */
export async function loadCartDoc(redis: RedisClient, cartId: string): Promise<CartDoc | undefined> {
  const raw = await redis.get(cartKey(cartId));
  return raw === null ? undefined : parse(raw, 0)?.doc;
}

export async function loadCart(redis: RedisClient, cartId: string): Promise<StoredCart | undefined> {
  const [[, raw], [, pttl]] = (await redis.multi().get(cartKey(cartId)).pttl(cartKey(cartId)).exec()) as [[null, string | null], [null, number]];
  return raw === null ? undefined : parse(raw, pttl);
}

// KEYS[1] cart key; ARGV: mode ('add' | 'set' | 'remove'), ttl ms, then (variant_id, quantity, unit_price_cents)
// triples. 'add' adds to a line's quantity (keeping its first price), 'set' sets it (0 removes the line),
// 'remove' drops the lines named, 'price' sets the price of the lines named. Returns {document, pttl}, or nil when the cart is gone.
const CHANGE_LINES = new LuaScript(`
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local doc = cjson.decode(raw)
local items = doc.items
if type(items) ~= 'table' then items = {} end
local mode = ARGV[1]
for i = 3, #ARGV, 3 do
  local vid = ARGV[i]
  local qty = tonumber(ARGV[i + 1])
  local price = tonumber(ARGV[i + 2])
  local found = nil
  for j, it in ipairs(items) do
    if it.variant_id == vid then found = j end
  end
  if mode == 'price' then
    if found then items[found].unit_price_cents = price end
  elseif mode == 'remove' or (mode == 'set' and qty == 0) then
    if found then table.remove(items, found) end
  elseif found then
    if mode == 'add' then items[found].quantity = items[found].quantity + qty else items[found].quantity = qty end
  else
    table.insert(items, { variant_id = vid, quantity = qty, unit_price_cents = price })
  end
end
doc.items = items
local encoded = cjson.encode(doc)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], encoded, 'PX', ttl)
else
  redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
end
return { encoded, redis.call('PTTL', KEYS[1]) }
`);

export interface LineChange {
  variantId: string;
  quantity: number;
  unitPriceCents: number;
}

/**
 * Applies line changes atomically and refreshes the TTL (ttlMs; 0 keeps the current one). Undefined when the
 * cart document is gone.
 */
export async function changeLines(
  redis: RedisClient,
  cartId: string,
  mode: 'add' | 'set' | 'remove' | 'price',
  changes: readonly LineChange[],
  ttlMs: number,
): Promise<StoredCart | undefined> {
  const args = changes.flatMap((c) => [c.variantId, String(c.quantity), String(c.unitPriceCents)]);
  const result = (await CHANGE_LINES.run(redis, [cartKey(cartId)], [mode, String(ttlMs), ...args])) as [string, number] | null;
  return result ? parse(result[0], Number(result[1])) : undefined;
}

// KEYS[1] cart key; ARGV: owner id, ttl ms. A guest cart (owner null) becomes the owner's, with the owner's TTL;
// the owner's own cart stays as it is. Returns {document, pttl}; 'other' for another account's cart; nil when gone.
const CLAIM = new LuaScript(`
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local doc = cjson.decode(raw)
if doc.owner_id == ARGV[1] then return { raw, redis.call('PTTL', KEYS[1]) } end
if doc.owner_id ~= nil and doc.owner_id ~= cjson.null then return 'other' end
doc.owner_id = ARGV[1]
local encoded = cjson.encode(doc)
redis.call('SET', KEYS[1], encoded, 'PX', tonumber(ARGV[2]))
return { encoded, redis.call('PTTL', KEYS[1]) }
`);

/**
 * Makes a guest cart the signed-in shopper's (its id alone no longer opens it, and it lives as long as a signed-in
 * shopper's cart); the shopper's own cart is returned as it is. Undefined when gone or another account's.
 */
export async function claimCart(redis: RedisClient, cartId: string, ownerId: string, ttlMs: number): Promise<StoredCart | undefined> {
  const result = (await CLAIM.run(redis, [cartKey(cartId)], [ownerId, String(ttlMs)])) as [string, number] | 'other' | null;
  return Array.isArray(result) ? parse(result[0], Number(result[1])) : undefined;
}

/** The document's TTL for this cart's owner. */
export function cartTtlMs(config: { CART_TTL_GUEST: number; CART_TTL_USER: number }, ownerId: string | null): number {
  return ownerId ? config.CART_TTL_USER : config.CART_TTL_GUEST;
}

/** Forgets a cart's document (its holds are released by whoever calls this, or by the hold-expiry sweepers). */
export async function forgetCart(redis: RedisClient, cartId: string): Promise<void> {
  await redis.del(cartKey(cartId));
}
