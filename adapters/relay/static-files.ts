/**
 * Static files beside the relay (the demo app on `/`). Only regular files under `root` are served:
 * the URL path is decoded, resolved against `root` and refused unless it stays inside it (no `..`,
 * no absolute paths, no NUL); a directory serves its index.html. GET and HEAD only.
 * Never served: a path with a segment starting with `.` (`/.env`, `/.git/config`, `/a/.npmrc`), and a file
 * whose real path (symbolic links resolved) leaves the real root: a link inside the demo directory to
 * `/etc` or to the data directory serves nothing.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
};

export function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** The file under `root` that a URL path names, or undefined when it would leave `root`. */
export function resolveUnder(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  // Dotfiles and dot-directories (.env, .git, .npmrc) are never part of an app.
  if (decoded.split('/').some((segment) => segment.startsWith('.'))) return undefined;
  const base = resolve(root);
  const full = resolve(base, '.' + (decoded.startsWith('/') ? decoded : '/' + decoded));
  if (full !== base && !full.startsWith(base + sep)) return undefined;
  return full;
}

/** Serves the request from `root`; resolves false when there is no such file (the caller answers 404). */
export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, urlPath: string): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let file = resolveUnder(root, urlPath);
  if (!file) return false;
  try {
    let st = await stat(file);
    if (st.isDirectory()) {
      file = resolve(file, 'index.html');
      st = await stat(file);
    }
    if (!st.isFile()) return false;
    // Symbolic links are followed only while they stay inside the root (compared as real paths).
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(file)]);
    if (realFile !== realRoot && !realFile.startsWith(realRoot + sep)) return false;
    file = realFile;
    res.writeHead(200, { 'content-type': contentType(file), 'content-length': st.size, 'x-content-type-options': 'nosniff' });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(file!);
      stream.on('error', () => {
        res.destroy();
        done();
      });
      stream.on('end', done);
      stream.pipe(res);
    });
    return true;
  } catch {
    return false;
  }
}
