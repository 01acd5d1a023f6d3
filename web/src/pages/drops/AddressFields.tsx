import { Field } from '../../components/Field';
import type { ApiProblem } from '../../lib/problem';
import type { Schemas } from '../../api/client';

export type Address = Schemas['Address'];
export const EMPTY_ADDRESS: Address = { line1: '', city: '', postal_code: '', country: '' };

/** The shipping address inputs, each marked with the API's message for `shipping_address.<field>`. */
export function AddressFields({ value, onChange, problem }: { value: Address; onChange: (a: Address) => void; problem?: ApiProblem }) {
  const set = (key: keyof Address) => (e: { target: { value: string } }) => onChange({ ...value, [key]: e.target.value });
  const error = (key: string) => problem?.field(`shipping_address.${key}`);
  return (
    <fieldset>
      <legend>Shipping address</legend>
      <Field label="Street and number" autoComplete="address-line1" required value={value.line1} onChange={set('line1')} error={error('line1')} />
      <div className="row">
        <Field label="City" autoComplete="address-level2" required value={value.city} onChange={set('city')} error={error('city')} />
        <Field label="Postal code" autoComplete="postal-code" required value={value.postal_code} onChange={set('postal_code')} error={error('postal_code')} />
        <Field
          label="Country code"
          autoComplete="country"
          required
          maxLength={2}
          value={value.country}
          onChange={(e) => onChange({ ...value, country: e.target.value.toUpperCase() })}
          error={error('country')}
          hint="Two letters, e.g. US, DE"
        />
      </div>
    </fieldset>
  );
}
