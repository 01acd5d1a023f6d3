import { z } from 'zod';
import { PAYMENT_METHOD } from '../../payments/validation';
import './api'; // teaches zod `.openapi()` before the schema below uses it

/** A card token as every payment request takes it (pledges, checkout, drop entries and claims). */
export const PaymentMethodToken = z
  .string()
  .regex(PAYMENT_METHOD, 'must be a payment method token starting with pm_')
  .openapi({ description: 'A provider payment method token (pm_...)', example: 'pm_card_visa' });
