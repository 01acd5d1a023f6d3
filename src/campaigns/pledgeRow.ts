import type { PledgeStatus } from '../domain/campaigns';

/** A `pledges` row as the pledge service and settlement read it. */
export interface PledgeRow {
  id: string;
  campaign_id: string;
  backer_id: string;
  reward_tier_id: string | null;
  amount_cents: number;
  currency: string;
  status: PledgeStatus;
  payment_mode: 'authorize' | 'save_card';
  payment_method: string;
  payment_key: string | null;
  provider_customer_id: string | null;
  provider_payment_method: string | null;
  revision: number;
  charge_attempts: number;
  last_failed_attempt: number;
  failure_code: string | null;
  failure_message: string | null;
  drop_deadline: Date | null;
  created_at: Date;
  updated_at: Date;
  collected_at: Date | null;
  cancelled_at: Date | null;
}
