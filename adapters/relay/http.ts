/**
 * The relay's plain HTTP routes, beside the WebSocket endpoint on the same port:
 *   GET /livez    200 while the process runs
 *   GET /readyz   200 when storage is open and the server listens (503 otherwise, e.g. while shutting down)
 *   GET /metrics  Prometheus text of this relay's registry (who may read it: `statusAccess`)
 *   anything else: a file from `staticDir` when given (the demo app), else 404.
 * Only GET and HEAD (405 otherwise). The gate (gate.ts) has already checked Host and Origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { statusRefusal } from './gate.js';
import type { RelayMetrics } from './metrics.js';
import { serveStatic } from './static-files.js';

export interface HttpContext {
  ready: () => boolean;
  metrics: RelayMetrics;
  staticDir?: string;
  statusAccess: Parameters<typeof statusRefusal>[0];
}

function text(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function handleHttp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'GET or HEAD\n');
    if (path === '/livez') return text(res, 200, 'ok\n');
    if (path === '/readyz') return ctx.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
    if (path === '/metrics') {
      const refused = statusRefusal(ctx.statusAccess, req);
      if (refused) return text(res, refused.status, refused.reason + '\n');
      const m = await ctx.metrics.text();
      return text(res, 200, m.body, m.contentType);
    }
    if (ctx.staticDir && (await serveStatic(ctx.staticDir, req, res, path))) return;
    if (path === '/') return text(res, 200, 'Concord relay: connect a WebSocket here. /livez /readyz /metrics\n');
    text(res, 404, 'not found\n');
  } catch {
    if (!res.headersSent) text(res, 500, 'internal error\n');
    else res.destroy();
  }
}
