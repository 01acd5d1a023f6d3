import { defineConfig } from 'vite';

// `npm run web:dev`: Vite's dev server with the API calls proxied to a running API (npm start); API_URL to change it.
const api = process.env.API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: import.meta.dirname,
  // Vite's own transformer compiles the TSX (React's automatic runtime); no plugin needed for a build.
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      // React Query marks its modules "use client" (for server components); meaningless in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: { proxy: { '/v1': { target: api }, '/docs': { target: api }, '/openapi.json': { target: api } } },
});
