/**
 * The data folder and the SQLite database hold secret values (the admin token, module vars),
 * so the folder is 0700 and the database files (`lively.db`, its `-wal`, `-shm` and
 * `-journal`) and `admin.token` are 0600. Modes are set explicitly, never left to the umask, and a folder or
 * database from before (or loosened by hand) is tightened at start with one log line.
 *
 * A database the user placed outside the data folder (`--db /srv/x.db`) is created 0600 when
 * Lively creates it, but an existing one is only warned about: its location and mode are the
 * user's choice (a group-readable file for a backup job, say), and changing modes outside our
 * own folder would surprise more than it protects.
 *
 * Owns: creating the data folder and the SQLite file, and their modes. Must not import
 * api/, gateway/, cli/.
 */
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ADMIN_TOKEN_FILE } from "../auth/tokens.ts";
import { LivelyError, toError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { isPostgresUrl } from "../store/store.ts";

const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;
/** Group and others: any of these set is what "looser" means. */
const SHARED_BITS = 0o077;
/** What SQLite writes beside the database; it gives each the database file's own mode. */
const SQLITE_SIDE_FILES = ["-wal", "-shm", "-journal"];

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, "0");

/** The mode bits of `path`, or undefined when it does not exist. */
function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/**
 * `mkdir -p`, one level at a time. Not `mkdirSync(…, { recursive: true })`: on Node 20 that
 * spins for ever where the file system refuses a new folder with ENOENT (under /proc), and a
 * node that hangs at start ignoring signals is worse than one that names the bad path.
 */
function makeFolders(path: string, mode: number): void {
  const missing: string[] = [];
  for (let folder = path; modeOf(folder) === undefined; folder = dirname(folder)) {
    if (dirname(folder) === folder) break; // the root itself: let mkdir say why
    missing.unshift(folder);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode });
    } catch (error) {
      // Another node sharing the parent made it first.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

/** Create `path` empty with `mode` unless it exists; the mode is set on the open file, past the umask. */
function createPrivateFile(path: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (error) {
    // Another node sharing this folder created it first: the tightening below covers it.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    throw error;
  }
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * Make the data folder (0700) and, for a SQLite `db`, the database file (0600) before the
 * store opens it: SQLite then creates its WAL and shared-memory files with the same mode.
 */
export function secureDataDir(options: { dataDir: string; db: string; log: Logger }): void {
  try {
    prepare(options);
  } catch (thrown) {
    const error = toError(thrown);
    throw new LivelyError(
      "bad_request",
      `cannot prepare the data folder or database file: ${error.message} (see --data-dir and --db)`,
      { dataDir: options.dataDir },
      { cause: error },
    );
  }
}

function prepare(options: { dataDir: string; db: string; log: Logger }): void {
  const dataDir = resolve(options.dataDir);
  const tightened: string[] = [];
  const tighten = (path: string, mode: number, allowed: number) => {
    chmodSync(path, mode & allowed);
    tightened.push(`${path} ${octal(mode)} -> ${octal(mode & allowed)}`);
  };

  const folderBefore = modeOf(dataDir);
  makeFolders(dataDir, FOLDER_MODE);
  if (folderBefore === undefined) chmodSync(dataDir, FOLDER_MODE);
  else if (folderBefore & SHARED_BITS) tighten(dataDir, folderBefore, FOLDER_MODE);

  const tokenFile = join(dataDir, ADMIN_TOKEN_FILE);
  const tokenMode = modeOf(tokenFile);
  if (tokenMode !== undefined && tokenMode & SHARED_BITS) tighten(tokenFile, tokenMode, FILE_MODE);

  if (!isPostgresUrl(options.db)) {
    const database = resolve(options.db);
    const inside = isInside(dataDir, database);
    if (modeOf(database) === undefined) {
      makeFolders(dirname(database), FOLDER_MODE);
      createPrivateFile(database, FILE_MODE);
    }
    const loose: string[] = [];
    for (const path of [database, ...SQLITE_SIDE_FILES.map((suffix) => database + suffix)]) {
      const mode = modeOf(path);
      if (mode === undefined || !(mode & SHARED_BITS)) continue;
      if (inside) tighten(path, mode, FILE_MODE);
      else loose.push(`${path} ${octal(mode)}`);
    }
    if (loose.length > 0) {
      options.log.warn(
        { files: loose },
        "the database outside the data folder is readable by others and holds secret values; Lively leaves files outside its data folder as they are: chmod 600 them",
      );
    }
  }
  if (tightened.length > 0) {
    options.log.warn({ tightened }, "tightened the modes of the data folder and database files: they hold secret values");
  }
}
