/**
 * The data directory and state file hold the parent key and webhook signing secrets (issue
 * "Security hardening", item 4): directory 0700, file 0600, written atomically through a randomly
 * named exclusive temp file, never through a symlink.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator } from '../../emulator';
import { ACME } from './helpers';

const STATE = 'emulator-state.json';
const mode = (p: string): number => fs.statSync(p).mode & 0o777;

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-emu-sec-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Start an emulator on `dataDir`, create a child (a state change), close it (flushes). Returns the child id. */
async function writeOnce(dataDir: string): Promise<string> {
  const emu = await startEmulator({ port: 0, quiet: true, dataDir });
  try {
    const r = await fetch(`${emu.url}/v1/organizations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emu.parentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(ACME),
    });
    expect(r.status).toBe(201);
    return ((await r.json()) as { id: string }).id;
  } finally {
    await emu.close();
  }
}

test('a new data directory is created 0700 (parents too) and the state file is written 0600', async () => {
  const dir = path.join(tmp, 'nested', 'data');
  const previous = process.umask(0o000); // a permissive umask must not widen anything
  try {
    await writeOnce(dir);
  } finally {
    process.umask(previous);
  }
  expect(mode(path.join(tmp, 'nested'))).toBe(0o700);
  expect(mode(dir)).toBe(0o700);
  expect(mode(path.join(dir, STATE))).toBe(0o600);
  expect(fs.readdirSync(dir)).toEqual([STATE]); // no temp file left behind
});

test('an existing 0755 directory and a 0644 state file from an earlier version are fixed at start', async () => {
  fs.chmodSync(tmp, 0o755);
  await writeOnce(tmp);
  const file = path.join(tmp, STATE);
  fs.chmodSync(file, 0o644);
  fs.chmodSync(tmp, 0o755);
  const emu = await startEmulator({ port: 0, quiet: true, dataDir: tmp });
  try {
    expect(mode(tmp)).toBe(0o700);
    expect(mode(file)).toBe(0o600); // fixed on load, before any write
  } finally {
    await emu.close();
  }
  expect(mode(file)).toBe(0o600);
});

test('stale temp files of a killed writer are removed at start; others are left alone', async () => {
  fs.writeFileSync(path.join(tmp, `${STATE}.0123456789abcdef.tmp`), '{"torn');
  fs.writeFileSync(path.join(tmp, `${STATE}.4242.tmp`), '{"torn'); // the earlier `<pid>.tmp` form
  fs.writeFileSync(path.join(tmp, 'notes.txt'), 'mine');
  await writeOnce(tmp);
  expect(fs.readdirSync(tmp).sort()).toEqual([STATE, 'notes.txt']);
});

test('a symlink at the state file path is never followed: not read at start', async () => {
  const victim = path.join(tmp, 'victim.json');
  fs.writeFileSync(victim, '{}');
  const dir = path.join(tmp, 'data');
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.symlinkSync(victim, path.join(dir, STATE));
  await expect(startEmulator({ port: 0, quiet: true, dataDir: dir })).rejects.toThrow(/symlink/);
});

test('a symlink placed at the state file path while running is replaced, not written through', async () => {
  const victim = path.join(tmp, 'victim.json');
  fs.writeFileSync(victim, 'untouched');
  const dir = path.join(tmp, 'data');
  const emu = await startEmulator({ port: 0, quiet: true, dataDir: dir });
  const file = path.join(dir, STATE);
  try {
    fs.rmSync(file, { force: true });
    fs.symlinkSync(victim, file);
    const r = await fetch(`${emu.url}/_emulator/flush`, { method: 'POST' });
    expect(await r.json()).toEqual({ persisted: true });
  } finally {
    await emu.close();
  }
  expect(fs.readFileSync(victim, 'utf8')).toBe('untouched');
  expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
  expect(mode(file)).toBe(0o600);
  expect(JSON.parse(fs.readFileSync(file, 'utf8')).version).toBe(1);
});

test('a symlinked data directory is refused', async () => {
  const real = path.join(tmp, 'real');
  fs.mkdirSync(real, { mode: 0o700 });
  const link = path.join(tmp, 'link');
  fs.symlinkSync(real, link);
  await expect(startEmulator({ port: 0, quiet: true, dataDir: link })).rejects.toThrow(/symlink/);
});
