#!/usr/bin/env node
/**
 * The `concord` command: `concord relay ...` runs a relay until SIGTERM/SIGINT (then stops accepting,
 * closes every socket with 1001 and closes its storage); `concord token ...` prints a signed token.
 * Options come from flags, then the environment (PORT, HOST, DATA_DIR, CONCORD_SECRET, CONCORD_SECRET_FILE,
 * CONCORD_CLUSTER_SECRET, CONCORD_CLUSTER_SECRET_FILE). Secrets are best passed as files or environment
 * variables: a `--secret` flag is visible to every user of the machine in `ps` (the relay warns). Exit codes:
 * 0 done, 1 failed, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { ConcordError } from '../lib/errors.js';
import { lanConfig, localConfig } from '../lib/membership/config.js';
import { createRelay } from './relay/relay.js';
import type { StatusAccess } from './relay/relay-options.js';
import { readSecretFile } from './relay/secrets.js';
import { createToken } from './relay/token.js';

const HELP = `concord — offline-first sync after Amazon's Dynamo

Usage:
  concord relay [options]     run a WebSocket relay: clients sync through it; it keeps their spaces
  concord token [options]     print a signed token granting rights to spaces
  concord --help              this text

concord relay
  --port N          TCP port (env PORT; default 8787; 0 picks a free one)
  --host ADDR       address to listen on (env HOST; default 127.0.0.1)
  --data DIR        keep the data in DIR, durably (env DATA_DIR; default: in memory, lost on exit)
  --restored        DIR was just restored from a backup. Accepted for scripts; every start already opens
                    DIR under a new replica id, so the relay's own writes never reuse an id lost writes used
  --secret-file F   client token secret(s), one per line, at least 16 bytes each (env CONCORD_SECRET_FILE,
                    or the secret itself in CONCORD_SECRET). The first line signs; further lines are
                    previous secrets, still accepted for --secret-grace (rotation). Without a secret the
                    relay serves loopback only, grants every client every right and does not cluster
  --secret S        the secret on the command line (visible in ps: prefer --secret-file or the env)
  --cluster-secret-file F  relay-to-relay secret(s), same format (env CONCORD_CLUSTER_SECRET_FILE or
                    CONCORD_CLUSTER_SECRET); must differ from the client secret. Without it relays
                    cluster on a secret derived from the client secret (the relay warns)
  --secret-grace D  how long previous secrets stay accepted after start (default 24h)
  --origin URL      allow browsers from this origin (repeatable; '*' = any). Default: any origin with a
                    secret, loopback origins without one. Other origins are refused at the upgrade (403)
  --allowed-host H  answer only requests whose Host is H (repeatable; default: any with a secret,
                    loopback names without one: DNS rebinding)
  --status ACCESS   who may read /metrics and GET /cluster: open (default), loopback, off
  --status-token-file F  /metrics and GET /cluster need "Authorization: Bearer <first line of F>"
  --trust-proxy     behind a reverse proxy: per-IP limits use the last X-Forwarded-For address
  --join URL        seed relay of a cluster (repeatable); relays authenticate each other with the
                    cluster secret (set one: --cluster-secret-file)
  --public-url URL  the ws:// URL other relays and clients reach this relay at (default ws://host:port)
  --gossip PRESET   membership timings: lan (probe every second, the default), local (10x faster, one
                    machine), or a probe period in ms (e.g. 250: timeouts and push-pull scale with it)
  --static DIR      serve the files of DIR on other HTTP paths (the demo app on /)
  --max-payload N   largest inbound frame in bytes (default 4194304; larger closes with 1009)
  --quiet           no logs (default: JSON lines on stdout)

  Serves, on the same port: the WebSocket endpoint (any path), GET /livez (200 while running),
  GET /readyz (200 when storage is open and the server listens), GET /metrics (Prometheus text:
  connections, spaces, messages, bytes, sync rounds, errors). Clients send their token in the first
  message (never the URL) within 10 s, or are closed with 4408. Close codes: 4400 malformed input,
  4401 bad or expired token (a connection is closed when its token expires), 4403 no rights or too many
  spaces, 4429 rate limit, 4430 slow consumer, 1009 frame too large. Limits and the threat model:
  SECURITY.md.
  SIGTERM/SIGINT: stop accepting, close sockets with 1001, flush and close storage, exit 0.

concord token
  --space NAME      a space (or pattern with *, e.g. 'team-*') the token grants (repeatable, required)
  --write           grant read and write
  --read            grant read only (the default)
  --ttl DURATION    lifetime: 90, 30s, 15m, 1h, 7d (default 1h)
  --sub USER        the user the token speaks for: a relay binds each replica id to the first user using it
  --secret-file F   the relay's secret file (its first line signs; env CONCORD_SECRET_FILE)
  --secret S        the relay's secret (env CONCORD_SECRET; visible in ps)

Examples:
  npx concord relay --port 8787 --host 127.0.0.1 --data ./data
  npx concord relay --host 0.0.0.0 --secret-file /run/secrets/concord --origin https://app.example
  npx concord token --secret-file /run/secrets/concord --space team-42 --write --ttl 1h
`;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

class UsageError extends Error {}

function integer(text: string | undefined, what: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got "${text}"`);
  return n;
}

/** Secrets from a flag, else a file (one per line, current first), else an environment variable. */
function secretsFrom(flag: string | undefined, file: string | undefined, env: string | undefined): string[] | undefined {
  if (flag !== undefined) return [flag];
  if (file) return readSecretFile(file);
  return env ? [env] : undefined;
}

async function relayCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      secret: { type: 'string' },
      'secret-file': { type: 'string' },
      'cluster-secret-file': { type: 'string' },
      'secret-grace': { type: 'string' },
      origin: { type: 'string', multiple: true },
      'allowed-host': { type: 'string', multiple: true },
      status: { type: 'string' },
      'status-token-file': { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      join: { type: 'string', multiple: true },
      'public-url': { type: 'string' },
      gossip: { type: 'string' },
      static: { type: 'string' },
      'max-payload': { type: 'string' },
      quiet: { type: 'boolean' },
      restored: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (values.restored && !(values.data ?? io.env.DATA_DIR)) throw new UsageError('--restored needs --data: a relay in memory has nothing to restore');
  const port = integer(values.port ?? io.env.PORT, '--port') ?? 8787;
  const maxPayload = integer(values['max-payload'], '--max-payload');
  const secret = secretsFrom(values.secret, values['secret-file'] ?? io.env.CONCORD_SECRET_FILE, io.env.CONCORD_SECRET);
  const clusterSecret = secretsFrom(undefined, values['cluster-secret-file'] ?? io.env.CONCORD_CLUSTER_SECRET_FILE, io.env.CONCORD_CLUSTER_SECRET);
  const status = values.status ?? 'open';
  if (status !== 'open' && status !== 'loopback' && status !== 'off') throw new UsageError(`--status must be open, loopback or off, got "${status}"`);
  const statusAccess: StatusAccess = values['status-token-file'] ? { token: readSecretFile(values['status-token-file'])[0]! } : status;
  const dataDir = values.data ?? io.env.DATA_DIR;
  const gossip = values.gossip ?? 'lan';
  const period = /^\d+$/.test(gossip) ? Number(gossip) : undefined;
  if (gossip !== 'lan' && gossip !== 'local' && !(period && period >= 10)) throw new UsageError(`--gossip must be lan, local or a period in ms (≥ 10), got "${gossip}"`);
  const cluster = period ? lanConfig({ probeInterval: period, probeTimeout: period / 2, pushPullInterval: period * 30 }) : gossip === 'local' ? localConfig() : lanConfig();
  const relay = await createRelay({
    port,
    host: values.host ?? io.env.HOST ?? '127.0.0.1',
    ...(dataDir ? { dataDir } : {}),
    ...(secret ? { secret } : {}),
    ...(clusterSecret ? { clusterSecret } : {}),
    ...(values['secret-grace'] ? { secretGrace: values['secret-grace'] } : {}),
    ...(values.origin ? { origins: values.origin } : {}),
    ...(values['allowed-host'] ? { hosts: values['allowed-host'] } : {}),
    statusAccess,
    ...(values['trust-proxy'] ? { trustProxy: true } : {}),
    ...(values.join ? { join: values.join } : {}),
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
    cluster,
    ...(values.static ? { staticDir: values.static } : {}),
    ...(maxPayload ? { maxPayload } : {}),
    ...(values.restored ? { restored: true } : {}),
    log: values.quiet ? false : (e) => io.out(JSON.stringify(e) + '\n'),
  });
  if (values.secret !== undefined && !values.quiet) {
    io.out(JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: '--secret is visible to other users in ps: pass --secret-file or CONCORD_SECRET instead' }) + '\n');
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      if (!values.quiet) io.out(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'shutting down', signal }) + '\n');
      void relay.close().then(resolve, (e) => {
        io.err(`concord: error while closing: ${e instanceof Error ? e.message : String(e)}\n`);
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  return 0;
}

function tokenCommand(args: string[], io: CliIo): number {
  const { values } = parseArgs({
    args,
    options: {
      space: { type: 'string', multiple: true },
      write: { type: 'boolean' },
      read: { type: 'boolean' },
      ttl: { type: 'string' },
      sub: { type: 'string' },
      secret: { type: 'string' },
      'secret-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (!values.space?.length) throw new UsageError('token: give at least one --space NAME');
  if (values.write && values.read) throw new UsageError('token: --read and --write exclude each other');
  const secret = secretsFrom(values.secret, values['secret-file'] ?? io.env.CONCORD_SECRET_FILE, io.env.CONCORD_SECRET)?.[0];
  if (!secret) throw new UsageError('token: no secret: pass --secret-file or set CONCORD_SECRET (the relay\'s secret)');
  const rights = values.write ? 'write' : 'read';
  const spaces = Object.fromEntries(values.space.map((s) => [s, rights] as const));
  io.out(createToken(secret, { spaces, expiresIn: values.ttl ?? '1h', ...(values.sub !== undefined ? { sub: values.sub } : {}) }) + '\n');
  return 0;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.out(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === 'relay') return await relayCommand(rest, io);
    if (command === 'token') return tokenCommand(rest, io);
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      io.err(`concord: ${(e as Error).message}\nRun "concord --help" for usage.\n`);
      return 2;
    }
    if (e instanceof ConcordError) {
      io.err(`concord: ${e.message} (${e.code})\n`);
      return 1;
    }
    io.err(`concord: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env };
  void main(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
