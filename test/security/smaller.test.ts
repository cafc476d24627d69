/**
 * Issue 11 #10, the smaller findings: anti-entropy nodes below the leaves (levels 5–8 used to pass
 * validation and end in internal error 4500), malleable token signatures (several spellings of one
 * signature verified), and static files (dotfiles served, symbolic links followed out of the root).
 */
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createToken, verifyToken } from '../../adapters/relay/index.js';
import { isConcordError } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { rawSession, syncItem } from './raw-session.js';
import { closeAll, SECRET, tracker } from './support.js';

const t = tracker();
const dirs: string[] = [];
afterAll(async () => {
  await closeAll(...t.open);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const verifies = (token: string) => {
  try {
    verifyToken(SECRET, token);
    return true;
  } catch (e) {
    if (!isConcordError(e, 'UNAUTHORIZED')) throw e;
    return false;
  }
};

describe('smaller findings (#10)', () => {
  it('closes an anti-entropy turn naming a node below the leaves with 4400, not an internal error', async () => {
    const relay = await t.relay();
    for (const level of [5, 8]) {
      const peer = rawSession(relay.url, { spaces: [syncItem('s')] });
      await peer.ready;
      peer.send({ type: MsgType.AntiEntropy, space: 's', run: 7, top: 0, items: [{ kind: 'node', level, index: 0, hash: '00000000' }], want: [], final: false });
      expect((await peer.closed).code, `level ${level}`).toBe(4400);
    }
    expect(await relay.metrics()).not.toContain('reason="internal"');
  });

  it('accepts exactly one spelling of a token signature', () => {
    const token = createToken(SECRET, { spaces: { a: 'write' }, expiresIn: 60 });
    expect(verifies(token)).toBe(true);
    const [body, sig] = token.split('.') as [string, string];
    // The last of 43 characters carries 4 bits of the signature and 2 unused bits; decoders ignore those.
    const last = sig[sig.length - 1]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBits = alphabet[alphabet.indexOf(last) ^ 1]!;
    const standard = Buffer.from(sig, 'base64url').toString('base64');
    const variants = [
      `${body}.${sig}=`,
      `${body}.${sig.slice(0, -1)}${sameBits}`,
      `${body}.${sig.slice(0, 10)}!${sig.slice(10)}`,
      `${body}.${sig.slice(0, 10)} ${sig.slice(10)}`,
      `${body}.${standard}`,
      `${body}.${sig}A`,
    ].filter((v) => v !== token);
    for (const v of variants) expect(verifies(v), v).toBe(false);
  });

  it('serves no dotfile and follows no symbolic link out of the static root', async () => {
    const root = await mkdtemp(join(tmpdir(), 'concord-sec-static-'));
    const outside = await mkdtemp(join(tmpdir(), 'concord-sec-outside-'));
    dirs.push(root, outside);
    await writeFile(join(root, 'index.html'), '<h1>app</h1>');
    await writeFile(join(root, '.env'), 'SECRET=1');
    await mkdir(join(root, '.git'));
    await writeFile(join(root, '.git', 'config'), '[core]');
    await mkdir(join(root, 'app'));
    await writeFile(join(root, 'app', '.npmrc'), '//registry/:_authToken=x');
    await writeFile(join(outside, 'secret.txt'), 'outside the root');
    await symlink(join(outside, 'secret.txt'), join(root, 'leak.txt'));
    await symlink(outside, join(root, 'elsewhere'));
    await writeFile(join(root, 'app', 'ok.js'), 'export {}');
    await symlink(join(root, 'app', 'ok.js'), join(root, 'inside.js'));
    const relay = await t.relay({ staticDir: root });
    const base = `http://127.0.0.1:${relay.port}`;
    for (const path of ['/.env', '/.git/config', '/app/.npmrc', '/%2eenv', '/leak.txt', '/elsewhere/secret.txt']) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toMatch(/SECRET|core|authToken|outside/);
    }
    // Ordinary files, and a link that stays inside the root, are still served.
    expect((await fetch(base + '/')).status).toBe(200);
    expect(await (await fetch(base + '/inside.js')).text()).toBe('export {}');
  });
});
