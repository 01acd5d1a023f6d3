import { useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router-dom';

/**
 * Filters kept in the address (so a reload or a shared link shows the same list): `set` changes one (an empty
 * value removes it), and the search box's text goes in as `q` when its form is submitted.
 */
export function useUrlFilters() {
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get('q') ?? '');
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next);
  };
  const search = (e: FormEvent) => {
    e.preventDefault();
    set('q', text.trim());
  };
  return { params, set, text, setText, search };
}
