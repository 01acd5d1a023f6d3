import { z } from 'zod';
import '../http/api'; // teaches zod `.openapi()` before the schema below uses it

/** A card token as pledges take it (creating one, or replacing its card). */
export const PaymentMethodToken = z
  .string()
  .regex(/^pm_[A-Za-z0-9_]{1,250}$/, 'must be a payment method token starting with pm_')
  .openapi({ example: 'pm_card_visa' });
