/**
 * The page's files as `room serve --web` serves them: a fixed list of the files the build writes
 * into dist/web (scripts/bundle.ts), read once at start and gzipped once, so that no path a client
 * sends ever reaches the file system.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ExitCode, SunoyeError } from '../errors.js';

/** The URL paths the page has, each with its file in dist/web and its content type. */
export const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/main.js': { file: 'main.js', type: 'text/javascript; charset=utf-8' },
  '/scrypt-worker.js': { file: 'scrypt-worker.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** One file of the page, as sent: its bytes plain and gzipped. */
export interface Asset {
  type: string;
  plain: Buffer;
  gzip: Buffer;
}

/**
 * Where the build puts the page: dist/web, two folders above the running code (the programs'
 * bundles in dist/bin/lib, or tsc's output in dist/src/http).
 */
export const PAGE_DIR = new URL('../../web/', import.meta.url);

/** Reads and gzips every file of the page in `dir`; a missing one is an error that says to build. */
export function loadPage(dir: URL = PAGE_DIR): ReadonlyMap<string, Asset> {
  const page = new Map<string, Asset>();
  for (const [path, { file, type }] of Object.entries(PAGE_FILES)) {
    let plain: Buffer;
    try {
      plain = readFileSync(new URL(file, dir));
    } catch (err) {
      throw new SunoyeError(
        `the page's file ${new URL(file, dir).pathname} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); build it with npm run build`,
        ExitCode.other,
      );
    }
    page.set(path, { type, plain, gzip: gzipSync(plain, { level: 9 }) });
  }
  return page;
}
