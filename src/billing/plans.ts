import { z } from 'zod';

/**
 * Merchant plans (Shopify-like), from configuration: the defaults below, or the whole list replaced by the
 * MERCHANT_PLANS setting (a JSON array of plans), validated at start-up by src/config.ts so a bad list stops the
 * process with a message naming the setting. Pure: no I/O. Proration (src/domain/proration.ts) prices a change
 * between two plans of one interval and currency.
 */

export type PlanInterval = 'month' | 'year';

/** What a store on the plan may have; null is unlimited. */
export interface PlanLimits {
  products: number | null;
  drops_per_month: number | null;
  hot_variants: number | null;
}

export interface Plan {
  id: string;
  name: string;
  /** The price of one whole period (month or year), in minor units of `currency`. */
  price_cents: number;
  currency: string;
  interval: PlanInterval;
  limits: PlanLimits;
  /** The platform's transaction fee on the store's sales, in basis points (1/100 of a percent). */
  transaction_fee_bps: number;
}

export const DEFAULT_PLANS: readonly Plan[] = Object.freeze([
  {
    id: 'basic',
    name: 'Basic',
    price_cents: 3_900,
    currency: 'USD',
    interval: 'month',
    limits: { products: 100, drops_per_month: 2, hot_variants: 5 },
    transaction_fee_bps: 200,
  },
  {
    id: 'grow',
    name: 'Grow',
    price_cents: 10_500,
    currency: 'USD',
    interval: 'month',
    limits: { products: 1_000, drops_per_month: 10, hot_variants: 25 },
    transaction_fee_bps: 100,
  },
  {
    id: 'advanced',
    name: 'Advanced',
    price_cents: 39_900,
    currency: 'USD',
    interval: 'month',
    limits: { products: null, drops_per_month: null, hot_variants: 100 },
    transaction_fee_bps: 60,
  },
]);

const limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

const PlanSetting = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be 1-40 characters: lowercase letters, digits, _ or -, starting with a letter'),
  name: z.string().trim().min(1).max(100),
  price_cents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD'),
  interval: z.enum(['month', 'year']),
  limits: z.strictObject({ products: limit, drops_per_month: limit, hot_variants: limit }),
  transaction_fee_bps: z.number().int().min(0).max(10_000),
});

const PlanListSetting = z
  .array(PlanSetting)
  .min(1)
  .max(50)
  .superRefine((plans, ctx) => {
    const seen = new Set<string>();
    plans.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate plan id "${p.id}"` });
      seen.add(p.id);
    });
  });

/**
 * The MERCHANT_PLANS setting: unset → DEFAULT_PLANS; else a JSON array of plans that replaces them. Every problem
 * is reported at the setting itself ("MERCHANT_PLANS: [1].price_cents: ..."), as src/config.ts names settings.
 */
export const merchantPlansSetting = z
  .string()
  .optional()
  .transform((value, ctx): Plan[] => {
    if (value === undefined || value.trim() === '') return DEFAULT_PLANS.map(copyPlan);
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of plans {id, name, price_cents, currency, interval, limits, transaction_fee_bps}' });
      return z.NEVER;
    }
    const parsed = PlanListSetting.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
        ctx.addIssue({ code: 'custom', message: where ? `${where}: ${issue.message}` : issue.message });
      }
      return z.NEVER;
    }
    return parsed.data.map(copyPlan);
  });

function copyPlan(p: Plan): Plan {
  return { ...p, limits: { ...p.limits } };
}

/** The plan with that id, or undefined. */
export function findPlan(plans: readonly Plan[], id: string): Plan | undefined {
  return plans.find((p) => p.id === id);
}
