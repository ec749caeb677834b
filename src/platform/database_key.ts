/**
 * Where the database key lives: an environment variable, the OS keychain, or a key file.
 *
 * @module
 */

import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { decodeBase64, encodeBase64 } from "../base64.ts";
import {
  decryptSessionSecret,
  encryptSessionSecret,
  generateDatabaseKeyBytes,
  importDatabaseKey,
  SECRET_LENGTH,
} from "../crypto.ts";
import { NONCE_LENGTH } from "../limits.ts";
import { SessionError } from "../errors.ts";
import type { Keychain } from "../keychain.ts";
import type { SessionReader } from "../store/store.ts";
import { DEFAULT_KEYCHAIN_SERVICE } from "../secret_chain.ts";
import { keychainWorks } from "./keychain.ts";
import { writePrivateFileSync } from "./private_file.ts";
import { acquireFileLock } from "./_repository_lock.ts";

/** The environment variable that, when set, holds the database key in base64. */
export const DATABASE_KEY_ENV = "SESSION_LIFECYCLE_DATABASE_KEY";
/** The keychain account of the database key (under the chain's default service). */
export const DATABASE_KEY_ACCOUNT = "database-key";
/** The key file's name in the data directory. */
export const DATABASE_KEY_FILE = "database.key";
/** The file that proves which key a data directory belongs to (a constant sealed under it). */
export const DATABASE_KEY_CHECK_FILE = "database.key-check";
/** The lock file taken while the key is decided. */
export const DATABASE_KEY_LOCK_FILE = "database.key.lock";

/** One sealed secret already in the store: enough to prove which key the store's secrets are under. */
export interface SealedSecretSample {
  /** The session it belongs to (the additional authenticated data of its sealing). */
  sessionId: string;
  /** Ciphertext with its tag. */
  encryptedSecret: Uint8Array;
  /** The 12-byte nonce. */
  nonce: Uint8Array;
}

/** Gives one sealed secret of the store, any one, or `null` when the store has none. */
export type SealedSecretProbe = () => Promise<SealedSecretSample | null>;

/**
 * Where the key check lives: a constant sealed under the first key, which every later key must
 * open. By default it is the file {@linkcode DATABASE_KEY_CHECK_FILE} in the data directory; a
 * database that several servers share keeps it in the database instead (the Postgres store's
 * `databaseKeyCheck()`), so that every server is held to the one key.
 */
export interface DatabaseKeyCheck {
  /** Where the check is kept, for messages: a file path, or a table of a database. */
  readonly location: string;
  /** The check value, or `null` when none has been written yet. */
  read(): Promise<string | null>;
  /**
   * Keeps `value` unless a check value is there already, atomically with respect to other
   * writers, and returns the value kept now: `value`, or the one another process wrote first.
   */
  claim(value: string): Promise<string>;
}

/** Options of {@linkcode resolveDatabaseKey}. */
export interface ResolveDatabaseKeyOptions {
  /** The data directory, home of the key file. */
  dataDir: string;
  /** Where to look for {@linkcode DATABASE_KEY_ENV}; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** The OS keychain, or `null` for none. */
  keychain?: Keychain | null;
  /** Keychain service name. */
  keychainService?: string;
  /**
   * Gives one sealed secret already in the store (see `sqliteSecretProbe` and
   * {@linkcode storeSecretProbe}). Asked only when the data directory has no check file yet: before
   * a check is written for a key, that key must open this secret, so a wrong key met with a missing
   * check file is refused instead of being written down as the right one. Without it a store that
   * already holds secrets cannot be told apart from an empty one.
   */
  probe?: SealedSecretProbe;
  /**
   * Where the key check lives; the file {@linkcode DATABASE_KEY_CHECK_FILE} in the data directory by
   * default. A database shared by several servers passes its own (see {@linkcode DatabaseKeyCheck}).
   */
  keyCheck?: DatabaseKeyCheck;
}

/** The database key and where it came from. */
export interface ResolvedDatabaseKey {
  /** A non-extractable AES-256-GCM key. */
  key: CryptoKey;
  /** Which of the three places gave it. */
  source: "env" | "keychain" | "file";
  /** A one-line warning for the operator, or `null`. */
  warning: string | null;
}

/**
 * Finds (or on first use creates) the database key:
 * 1. the environment variable {@linkcode DATABASE_KEY_ENV} (base64 of 32 bytes) wins when set;
 * 2. else a key file already in the data directory is used: once made, it stays the key;
 * 3. else the OS keychain, when one works (the key is created there on first use);
 * 4. else (a headless server, a container) a new key file of mode 0600, with a warning.
 *
 * A keychain whose binding did not load (see `isKeychainBindingFailure`: a Deno script run without
 * the project's deno.json, a missing native binary) is not a machine without a keychain: that error
 * is thrown, naming the cause and the fix, and no key file is made, since a key file once made stays
 * the key for good.
 *
 * A key file readable by group or others is refused. The first key a data directory gets leaves a
 * check value there ({@linkcode DATABASE_KEY_CHECK_FILE}); from then on a key that does not match it
 * is refused, and no new key is made when the old one cannot be found (a locked keychain), since
 * either would silently make every stored secret unreadable. When the check file is missing (a first
 * start, or a deleted file) and `probe` is given, the key must first open a sealed secret already in
 * the store: a wrong key is then refused (`Encryption`) and no check file is written for it, and no
 * new key is made for a store that already holds secrets. Processes deciding the key at once take
 * turns under a lock. With `keyCheck` the check lives elsewhere, for example in a database several
 * servers share; there the first check kept wins, and a key that does not match it is refused.
 *
 * @example Without a keychain: a key file, made once and then kept
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync, statSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { DATABASE_KEY_FILE, resolveDatabaseKey } from "./database_key.ts";
 *
 * const dataDir = mkdtempSync(join(tmpdir(), "slo-"));
 * // A server passes `keychain: openDefaultKeychain()` and lets `env` default to the process's.
 * const first = await resolveDatabaseKey({ dataDir, keychain: null, env: {} });
 * assert.equal(first.source, "file");
 * assert.notEqual(first.warning, null); // the operator is told the key lives in a file
 * assert.equal(statSync(join(dataDir, DATABASE_KEY_FILE)).mode & 0o777, 0o600);
 * const again = await resolveDatabaseKey({ dataDir, keychain: null, env: {} });
 * assert.equal(again.source, "file");
 * rmSync(dataDir, { recursive: true });
 * ```
 */
export async function resolveDatabaseKey(options: ResolveDatabaseKeyOptions): Promise<ResolvedDatabaseKey> {
  const env = options.env ?? process.env;
  const fromEnv = env[DATABASE_KEY_ENV];
  const envKey = fromEnv !== undefined && fromEnv !== "" ? parseKey(fromEnv.trim(), DATABASE_KEY_ENV) : null;
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // One process at a time decides the key: two first starts must not each create one.
  const release = await acquireFileLock(join(options.dataDir, DATABASE_KEY_LOCK_FILE));
  try {
    return await decideKey(options, envKey);
  } finally {
    release();
  }
}

async function decideKey(options: ResolveDatabaseKeyOptions, envKey: Uint8Array | null): Promise<ResolvedDatabaseKey> {
  const keyCheck = options.keyCheck ?? fileKeyCheck(join(options.dataDir, DATABASE_KEY_CHECK_FILE));
  const where = keyCheck.location;
  const check = await keyCheck.read();
  // Without a check file, the store's own sealed secrets are the evidence of which key is right: read
  // one (once) and hold every key against it before anything is written.
  let sample: Promise<SealedSecretSample | null> | undefined;
  const storedSecret = () => sample ??= check === null && options.probe ? options.probe() : Promise.resolve(null);
  // Every key is held against the check value the data directory's first key left; a data directory
  // without one gets it now, once the key has opened a secret of the store (when it has any).
  const accept = async (bytes: Uint8Array, source: ResolvedDatabaseKey["source"], warning: string | null) => {
    const key = await importDatabaseKey(bytes);
    if (check === null) {
      const secret = await storedSecret();
      if (secret !== null && !(await opens(key, secret))) {
        throw new SessionError(
          "Encryption",
          `the database key from ${describeSource(source)} cannot open the sealed secret of session ` +
            `${secret.sessionId} already in the store, so it is not the key the store's secrets were sealed with ` +
            `(and ${where} is missing); using it would make every stored secret unreadable. Set ` +
            `${DATABASE_KEY_ENV} to the right key`,
        );
      }
      // Another server sharing the check may have claimed it first, for another key: the one kept decides.
      const kept = await keyCheck.claim(await sealKeyCheck(key));
      if (!(await keyMatchesCheck(key, kept))) throw mismatch(source);
    } else if (!(await keyMatchesCheck(key, check))) {
      throw mismatch(source);
    }
    return { key, source, warning };
  };
  const mismatch = (source: ResolvedDatabaseKey["source"]) =>
    new SessionError(
      "Encryption",
      `the database key from ${describeSource(source)} does not match ${where}, so it is not the key the stored ` +
        `secrets were sealed with; using it would make every stored secret unreadable`,
    );
  const lostKey = () =>
    new SessionError(
      "Encryption",
      `a database key was made earlier (${where} exists) but cannot be found now: the OS keychain may be locked ` +
        `or unavailable, or this machine never had it. Unlock it, or set ${DATABASE_KEY_ENV} to the key; a new key ` +
        `would make every stored secret unreadable`,
    );

  if (envKey !== null) return await accept(envKey, "env", null);
  const file = join(options.dataDir, DATABASE_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing !== null) return await accept(existing, "file", null);

  const keychain = options.keychain ?? null;
  if (keychain !== null && await keychainWorks(keychain)) {
    const service = options.keychainService ?? DEFAULT_KEYCHAIN_SERVICE;
    let stored = await keychain.get(service, DATABASE_KEY_ACCOUNT);
    if (stored === null) {
      // Secrets sealed earlier (a check file, or a secret in the store) mean a key existed: a new one
      // could never open them.
      if (check !== null || (await storedSecret()) !== null) throw lostKey();
      await keychain.set(service, DATABASE_KEY_ACCOUNT, encodeBase64(generateDatabaseKeyBytes()));
      stored = await keychain.get(service, DATABASE_KEY_ACCOUNT);
      if (stored === null) throw new SessionError("Encryption", "the OS keychain did not keep the database key");
    }
    return await accept(parseKey(stored, "the keychain's database key"), "keychain", null);
  }

  if (check !== null || (await storedSecret()) !== null) throw lostKey();
  return await accept(
    createKeyFile(file),
    "file",
    `warning: no OS keychain available; the database key is kept in ${file} (mode 0600). ` +
      `Set ${DATABASE_KEY_ENV} or run with a keychain to keep it off the disk.`,
  );
}

// Whether `key` opens the store's sealed secret `secret` (a wrong key fails AES-GCM's authentication).
async function opens(key: CryptoKey, secret: SealedSecretSample): Promise<boolean> {
  try {
    await decryptSessionSecret(key, secret.sessionId, secret);
    return true;
  } catch {
    return false;
  }
}

/**
 * A {@linkcode SealedSecretProbe} over any store's reader: the first session (in the store's order)
 * that has a sealed secret. It reads the sessions one by one, so it suits a start-up check; for a
 * SQLite file `sqliteSecretProbe` asks one query.
 *
 * @example
 * ```ts ignore
 * import { resolveDatabaseKey, storeSecretProbe } from "./database_key.ts";
 * import { openSqliteStore } from "./sqlite.ts";
 *
 * const store = openSqliteStore("/var/lib/slo/sessions.db");
 * const { key } = await resolveDatabaseKey({ dataDir: "/var/lib/slo", probe: storeSecretProbe(store) });
 * ```
 */
export function storeSecretProbe(
  reader: Pick<SessionReader, "listSessions" | "getSessionSecret">,
): SealedSecretProbe {
  return async () => {
    for (const session of await reader.listSessions()) {
      const secret = await reader.getSessionSecret(session.id);
      if (secret !== null) return secret;
    }
    return null;
  };
}

function describeSource(source: ResolvedDatabaseKey["source"]): string {
  return source === "env" ? DATABASE_KEY_ENV : source === "file" ? "the key file" : "the OS keychain";
}

const CHECK_PLAINTEXT = new TextEncoder().encode("session-lifecycle-orchestrator database key check");
const CHECK_CONTEXT = "database-key-check";

// The check value: a constant sealed under the key (nonce and ciphertext, base64). It proves which key
// the directory belongs to without revealing anything about it.
async function sealKeyCheck(key: CryptoKey): Promise<string> {
  const sealed = await encryptSessionSecret(key, CHECK_CONTEXT, CHECK_PLAINTEXT);
  const both = new Uint8Array(sealed.nonce.length + sealed.encryptedSecret.length);
  both.set(sealed.nonce);
  both.set(sealed.encryptedSecret, sealed.nonce.length);
  return encodeBase64(both);
}

async function keyMatchesCheck(key: CryptoKey, check: string): Promise<boolean> {
  try {
    const both = decodeBase64(check, "the key check");
    const opened = await decryptSessionSecret(key, CHECK_CONTEXT, {
      nonce: both.subarray(0, NONCE_LENGTH),
      encryptedSecret: both.subarray(NONCE_LENGTH),
    });
    return encodeBase64(opened) === encodeBase64(CHECK_PLAINTEXT);
  } catch {
    return false;
  }
}

// The default key check: a 0600 file in the data directory. The caller holds the data directory's lock,
// so no other process writes it meanwhile.
function fileKeyCheck(path: string): DatabaseKeyCheck {
  return {
    location: `the key check file ${path}`,
    read: () => Promise.resolve(existsSync(path) ? readFileSync(path, "utf8").trim() : null),
    claim: (value) => {
      writePrivateFileSync(path, `${value}\n`);
      return Promise.resolve(value);
    },
  };
}

function parseKey(text: string, where: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(text, where);
  } catch (error) {
    throw new SessionError("Encryption", `${where} is not base64`, { cause: error });
  }
  if (bytes.length !== SECRET_LENGTH) {
    throw new SessionError("Encryption", `${where} must be ${SECRET_LENGTH} bytes, got ${bytes.length}`);
  }
  return bytes;
}

const checksPermissions = process.platform !== "win32";

function readKeyFile(file: string): Uint8Array | null {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return null;
    throw new SessionError("Encryption", `the key file ${file} cannot be read`, { cause: error });
  }
  if (checksPermissions && (mode & 0o077) !== 0) {
    throw new SessionError(
      "Encryption",
      `the key file ${file} is accessible to other users (mode ${(mode & 0o777).toString(8)}); ` +
        `run 'chmod 600 ${file}' if that is your key, then start again`,
    );
  }
  return parseKey(readFileSync(file, "utf8").trim(), `the key file ${file}`);
}

// Written to a private temp file and published with link(), which fails when the name exists:
// of two processes creating the key at once, one wins and the other reads the winner's key.
function createKeyFile(file: string): Uint8Array {
  const dir = join(file, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bytes = generateDatabaseKeyBytes();
  return writePrivateFileSync(file, `${encodeBase64(bytes)}\n`, "create") ? bytes : readKeyFile(file)!;
}
