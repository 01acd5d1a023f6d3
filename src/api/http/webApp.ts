import fs from 'node:fs';
import path from 'node:path';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

/** The project's root: the nearest folder up with a package.json (src/… when run by tsx, dist/src/… when compiled). */
function projectRoot(from: string = __dirname): string {
  return fs.existsSync(path.join(from, 'package.json')) || path.dirname(from) === from ? from : projectRoot(path.dirname(from));
}

export const PROJECT_ROOT = projectRoot();
/** Where `npm run web:build` writes the browser app (Vite's output). */
export const WEB_DIST = path.join(PROJECT_ROOT, 'web', 'dist');

/** Paths that belong to the API itself: never answered with the app's index.html. */
const API_PATHS = /^\/(v1|docs|openapi\.json|healthz|readyz|metrics)(\/|$)/;

/**
 * Serves the built web app at `/`: hashed assets cached for a year (their names change with their content),
 * index.html never cached (it names the current assets), and index.html for any other browser navigation so
 * client-side routes survive a reload. Without a build the API runs as before: nothing is mounted.
 */
export function mountWebApp(app: Express, dist: string = WEB_DIST): void {
  const index = path.join(dist, 'index.html');
  if (!fs.existsSync(index)) return;
  app.use(
    '/assets',
    express.static(path.join(dist, 'assets'), {
      index: false,
      fallthrough: false,
      setHeaders: (res) => res.setHeader('Cache-Control', 'public, max-age=31536000, immutable'),
    }),
  );
  app.use(
    express.static(dist, {
      index: false,
      setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || API_PATHS.test(req.path) || !acceptsHtml(req)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
}

// Only browser navigations (which list text/html) get the app; API clients keep their problem+json 404s.
const acceptsHtml = (req: Request): boolean => (req.get('accept') ?? '').includes('text/html');
