/**
 * The private, atomic state file (issue "Security hardening", item 4). The file holds the bootstrap
 * parent key's secret and the webhook signing secrets, so:
 *
 * - the data directory is created 0700, and an existing one is fixed to 0700; it must be a real
 *   directory (not a symlink) owned by this user;
 * - the file is written 0600, atomically: a temp file with a random name opened exclusively
 *   (`wx`, O_NOFOLLOW, 0600), written, fsynced, renamed over the state file (rename replaces a
 *   symlink there instead of following it), then the directory is fsynced — a kill at any moment
 *   leaves the previous or the new state, never a torn file;
 * - reading refuses a symlinked state file, and an existing file readable by others is fixed to 0600.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fs.constants;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** Open `p` without following a symlink at its last component, with a clear error if there is one. */
function openNoFollow(p: string, flags: number, what: string): number {
  try {
    return fs.openSync(p, flags | O_NOFOLLOW);
  } catch (e) {
    // ELOOP for a file; with O_DIRECTORY, Linux says ENOTDIR for a symlink.
    if ((errno(e) === 'ELOOP' || errno(e) === 'ENOTDIR') && fs.lstatSync(p).isSymbolicLink()) {
      throw new Error(`refusing to follow a symlink: the emulator ${what} ${p} is one`);
    }
    throw e;
  }
}

/** Fix the mode of an open file to `mode` if it grants more (owner check first: never chmod someone else's). */
function restrict(fd: number, p: string, mode: number): void {
  const st = fs.fstatSync(fd);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new Error(`the emulator data path ${p} belongs to another user (uid ${st.uid})`);
  }
  if ((st.mode & 0o777) !== mode) fs.fchmodSync(fd, mode);
}

/** Create `dir` (0700, parents included) or fix an existing one to 0700. */
export function preparePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const fd = openNoFollow(dir, O_RDONLY | O_DIRECTORY, 'data directory');
  try {
    restrict(fd, dir, DIR_MODE);
  } finally {
    fs.closeSync(fd);
  }
}

/** The file's text, or null when it does not exist. */
export function readPrivateFile(file: string): string | null {
  let fd: number;
  try {
    fd = openNoFollow(file, O_RDONLY, 'state file');
  } catch (e) {
    if (errno(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`the emulator state file ${file} is not a regular file`);
    restrict(fd, file, FILE_MODE);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

const tempName = (file: string): string => `${file}.${randomBytes(8).toString('hex')}.tmp`;

/** Temp files a killed writer left behind (this format, and the `<pid>.tmp` of earlier versions). */
export function removeStaleTemps(file: string): void {
  const base = path.basename(file).replace(/[.]/g, '\\.');
  const stale = new RegExp(`^${base}\\.(?:[0-9a-f]{16}|\\d+)\\.tmp$`);
  for (const name of fs.readdirSync(path.dirname(file))) {
    if (stale.test(name)) fs.rmSync(path.join(path.dirname(file), name), { force: true });
  }
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off);
}

/** Replace `file` with `text` atomically, 0600. */
export function writePrivateFileAtomic(file: string, text: string): void {
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, FILE_MODE); // `wx`, never a symlink
  try {
    try {
      fs.fchmodSync(fd, FILE_MODE); // whatever the umask
      writeAll(fd, Buffer.from(text, 'utf8'));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(file));
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Directory fsync is best-effort (not supported everywhere).
  }
}
