/**
 * Where the database key lives: an environment variable, the OS keychain, or a key file.
 *
 * @module
 */

import { closeSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { decodeBase64, encodeBase64 } from "../base64.ts";
import { generateDatabaseKeyBytes, importDatabaseKey, SECRET_LENGTH } from "../crypto.ts";
import { SessionError } from "../errors.ts";
import type { Keychain } from "../keychain.ts";
import { DEFAULT_KEYCHAIN_SERVICE } from "../secret_chain.ts";
import { keychainWorks } from "./keychain.ts";

/** The environment variable that, when set, holds the database key in base64. */
export const DATABASE_KEY_ENV = "SESSION_LIFECYCLE_DATABASE_KEY";
/** The keychain account of the database key (under the chain's default service). */
export const DATABASE_KEY_ACCOUNT = "database-key";
/** The key file's name in the data directory. */
export const DATABASE_KEY_FILE = "database.key";

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
 * A key file readable by group or others is refused.
 *
 * @example
 * ```ts ignore
 * import { resolveDatabaseKey } from "./database_key.ts";
 * import { openDefaultKeychain } from "./keychain.ts";
 *
 * const { key, source, warning } = await resolveDatabaseKey({
 *   dataDir: "/var/lib/slo",
 *   keychain: openDefaultKeychain(),
 * });
 * if (warning) console.warn(warning);
 * ```
 */
export async function resolveDatabaseKey(options: ResolveDatabaseKeyOptions): Promise<ResolvedDatabaseKey> {
  const env = options.env ?? process.env;
  const fromEnv = env[DATABASE_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== "") {
    return { key: await importDatabaseKey(parseKey(fromEnv.trim(), DATABASE_KEY_ENV)), source: "env", warning: null };
  }
  const file = join(options.dataDir, DATABASE_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing !== null) return { key: await importDatabaseKey(existing), source: "file", warning: null };

  const keychain = options.keychain ?? null;
  if (keychain !== null && await keychainWorks(keychain)) {
    const service = options.keychainService ?? DEFAULT_KEYCHAIN_SERVICE;
    let stored = await keychain.get(service, DATABASE_KEY_ACCOUNT);
    if (stored === null) {
      await keychain.set(service, DATABASE_KEY_ACCOUNT, encodeBase64(generateDatabaseKeyBytes()));
      // Read back: of two processes creating the key at once, both then use the one that stayed.
      stored = await keychain.get(service, DATABASE_KEY_ACCOUNT);
      if (stored === null) throw new SessionError("Encryption", "the OS keychain did not keep the database key");
    }
    return {
      key: await importDatabaseKey(parseKey(stored, "the keychain's database key")),
      source: "keychain",
      warning: null,
    };
  }

  const created = createKeyFile(file);
  return {
    key: await importDatabaseKey(created),
    source: "file",
    warning: `warning: no OS keychain available; the database key is kept in ${file} (mode 0600). ` +
      `Set ${DATABASE_KEY_ENV} or run with a keychain to keep it off the disk.`,
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
  const temp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`;
  const descriptor = openSync(temp, "wx", 0o600);
  try {
    writeSync(descriptor, `${encodeBase64(bytes)}\n`);
  } finally {
    closeSync(descriptor);
  }
  try {
    linkSync(temp, file);
    return bytes;
  } catch (error) {
    if ((error as { code?: string }).code !== "EEXIST") throw error;
    return readKeyFile(file)!;
  } finally {
    unlinkSync(temp);
  }
}
