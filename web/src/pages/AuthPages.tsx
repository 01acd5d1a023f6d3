import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate } from 'react-router-dom';
import { useMutation } from '@tanstack/react-query';
import { api, session } from '../api/client';
import { keepGuestCarts } from '../api/shop';
import { Field, SelectField } from '../components/Field';
import { ErrorBox } from '../components/states';
import { toProblem, unwrap } from '../lib/problem';
import { useTitle } from '../lib/useTitle';

/** After signing in: the session starts, guest carts become the account's, then back to the page that asked (`?next=`), else home. */
function useAfterSignIn() {
  const navigate = useNavigate();
  const next = new URLSearchParams(useLocation().search).get('next');
  return async (result: Parameters<typeof session.start>[0]) => {
    session.start(result);
    await keepGuestCarts();
    navigate(next?.startsWith('/') ? next : '/');
  };
}

export function SignInPage() {
  useTitle('Sign in');
  const done = useAfterSignIn();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/auth/login', { body: { email, password } })),
    onSuccess: done,
  });
  const problem = signIn.error ? toProblem(signIn.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate();
  };
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={problem?.field('email')} />
        <Field label="Password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={problem?.field('password')} />
        <button type="submit" disabled={signIn.isPending}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        New here? <Link to="/signup">Create an account</Link>.
      </p>
    </section>
  );
}

const ROLES = [
  { value: 'backer', label: 'Back campaigns' },
  { value: 'creator', label: 'Run campaigns' },
  { value: 'merchant', label: 'Sell in a store' },
  { value: 'provider', label: 'Offer services' },
] as const;
type SelfServiceRole = (typeof ROLES)[number]['value'];

export function SignUpPage() {
  useTitle('Create an account');
  const done = useAfterSignIn();
  const [form, setForm] = useState({ name: '', email: '', password: '', role: 'backer' as SelfServiceRole });
  const signUp = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/auth/register', { body: form })),
    onSuccess: done,
  });
  const problem = signUp.error ? toProblem(signUp.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signUp.mutate();
  };
  return (
    <section className="narrow">
      <h1>Create an account</h1>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <Field label="Name" autoComplete="name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} error={problem?.field('name')} />
        <Field label="Email" type="email" autoComplete="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} error={problem?.field('email')} />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
          error={problem?.field('password')}
          hint="At least 8 characters."
        />
        <SelectField label="I want to" value={form.role} onChange={(v) => setForm({ ...form, role: v as SelfServiceRole })} options={[...ROLES]} error={problem?.field('role')} />
        <button type="submit" disabled={signUp.isPending}>
          {signUp.isPending ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/signin">Sign in</Link>.
      </p>
    </section>
  );
}
