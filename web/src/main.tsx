import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App } from './App';
import { refreshSession } from './api/client';
import { retryDelayMs, toProblem } from './lib/problem';
import './styles.css';

const queries = new QueryClient({
  defaultOptions: {
    // A 4xx will not change by asking again; a network blip, a 429 or a 503 may, after the wait the server asks for.
    queries: { retry: (count, error) => count < 2 && toProblem(error).transient, retryDelay: retryDelayMs, staleTime: 10_000 },
  },
});

// A reload keeps the session: the stored refresh token buys a new in-memory access token before the first render.
void refreshSession().finally(() =>
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <QueryClientProvider client={queries}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </StrictMode>,
  ),
);
