/**
 * The OS keychain over `@napi-rs/keyring`: one maintained native binding for the macOS Keychain,
 * the Windows Credential Manager and the Linux Secret Service that loads in Deno, Bun and Node.
 * Secrets go to the binding in memory, never through a command line.
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { errorMessage, SessionError } from "../errors.ts";
import type { Keychain } from "../keychain.ts";

interface KeyringEntry {
  getSecret(signal?: AbortSignal): Promise<number[] | null>;
  setSecret(secret: Uint8Array, signal?: AbortSignal): Promise<void>;
  deleteCredential(signal?: AbortSignal): Promise<boolean>;
}

type EntryConstructor = new (
  service: string,
  account: string,
  options?: { linux?: { store?: "secret-service" | "keyutils" } },
) => KeyringEntry;

let binding: Promise<EntryConstructor> | undefined;

// Loaded on first use, so that a machine without the native binding still runs everything else.
function loadBinding(): Promise<EntryConstructor> {
  binding ??= import("@napi-rs/keyring").then(
    (module) => (module as unknown as { AsyncEntry: EntryConstructor }).AsyncEntry,
    (error) => {
      binding = undefined;
      throw keychainBindingFailure(error);
    },
  );
  return binding;
}

/** The runtimes whose fix {@linkcode keychainBindingFailure} can name. */
export type BindingRuntime = "deno" | "bun" | "node";

const bindingFailures = new WeakSet<object>();

// The checkout this module was loaded from, when it was loaded from files (not from a registry):
// the place whose deno.json or node_modules resolves the binding.
function checkoutOfThisModule(): string | null {
  const url = new URL("../../", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url).replace(/[\\/]$/, "") : null;
}

function currentRuntime(): BindingRuntime {
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  return global.Deno !== undefined ? "deno" : global.Bun !== undefined ? "bun" : "node";
}

/**
 * The error for a keychain binding that did not load, naming the cause and the fix. It is a broken
 * install, not a machine without a keychain, so callers must not treat it as "no keychain" (see
 * {@linkcode isKeychainBindingFailure}). Internal: not in the package's exports.
 *
 * @param cause the runtime's own error from importing `@napi-rs/keyring`
 * @param runtime whose fix to name; the running one by default
 * @param checkout the folder holding deno.json and node_modules; this module's checkout by default
 */
export function keychainBindingFailure(
  cause: unknown,
  runtime: BindingRuntime = currentRuntime(),
  checkout: string | null = checkoutOfThisModule(),
): SessionError {
  const detail = errorMessage(cause).split("\n")[0].trim();
  const where = checkout ?? "<checkout>";
  // Both runtimes say ERR_MODULE_NOT_FOUND for a bare name they cannot map, and name the module; the
  // native loader's own failures ("Cannot find native binding") carry no code.
  const unresolved = (cause as { code?: unknown } | null)?.code === "ERR_MODULE_NOT_FOUND" &&
    /["']@napi-rs\/keyring["']/.test(errorMessage(cause));
  const unavailable = "the OS keychain binding is unavailable: the module @napi-rs/keyring could not be";
  const installer = runtime === "node" ? "npm install" : runtime === "deno" ? "deno install" : "bun install";
  let message: string;
  if (unresolved && runtime === "deno") {
    message = `${unavailable} resolved (${detail}). Deno maps it through the import map in ${where}/deno.json, ` +
      `which a script outside the checkout does not load: run it with "deno run --config ${where}/deno.json ...", ` +
      `or import the published package (jsr:@rengoku/session-lifecycle-orchestrator/platform)`;
  } else if (unresolved) {
    message = `${unavailable} resolved (${detail}). Install the dependencies: run "${installer}" in ${where}`;
  } else if (/native binding|dlopen|\.node\b/i.test(errorMessage(cause))) {
    message = `${unavailable} loaded (${detail}). Its native binary for ${process.platform}-${process.arch} is ` +
      `missing or broken: reinstall @napi-rs/keyring with its optional dependencies (the platform package ` +
      `@napi-rs/keyring-${process.platform}-${process.arch}-*), for example "${installer}" in ${where}`;
  } else {
    message = `${unavailable} loaded (${detail}). Reinstall it, for example "${installer}" in ${where}`;
  }
  const error = new SessionError("Storage", message, { cause });
  bindingFailures.add(error);
  return error;
}

/**
 * Whether `error` says the OS keychain binding (`@napi-rs/keyring`) did not load: a broken
 * install or a script run without the project's import map, which the error's message names with
 * its fix. Such a keychain is not "absent": {@linkcode keychainWorks} rethrows this error, and
 * `resolveDatabaseKey` and the server refuse instead of keeping the database key in a file.
 *
 * @example
 * ```ts ignore
 * import { isKeychainBindingFailure, OsKeychain } from "./keychain.ts";
 *
 * try {
 *   await new OsKeychain().get("my-app", "user");
 * } catch (error) {
 *   if (isKeychainBindingFailure(error)) console.error(error.message); // names the cause and the fix
 *   else throw error;
 * }
 * ```
 */
export function isKeychainBindingFailure(error: unknown): error is SessionError {
  return typeof error === "object" && error !== null && bindingFailures.has(error);
}

function keychainError(action: string, error: unknown): SessionError {
  const detail = errorMessage(error);
  const hint = /AccessDenied|org\.freedesktop|no result found|ServiceUnknown|NoStorageAccess|PlatformFailure/i
      .test(detail)
    ? " (is a keyring daemon running and unlocked on the session bus?)"
    : "";
  return new SessionError("Storage", `OS keychain: ${action} failed: ${detail}${hint}`, { cause: error });
}

function requireName(value: string, field: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > 255) {
    throw new SessionError("InvalidInput", `keychain ${field} must be 1 to 255 characters`);
  }
}

/** Options of {@linkcode OsKeychain}. */
export interface OsKeychainOptions {
  /** How long one call may take before it fails (default 5000 ms): a keychain never hangs a caller. */
  timeoutMs?: number;
}

/**
 * The platform's keychain. Each call fails quickly with a `SessionError` (kind `Storage`) when
 * there is no session bus, the keyring is locked or access is denied; when the binding itself did
 * not load, with one that {@linkcode isKeychainBindingFailure} recognizes. On Linux entries are pinned
 * to the Secret Service: the binding would otherwise fall back to the kernel keyring, which does
 * not survive a reboot and would hide a missing keyring behind empty reads.
 *
 * The example is not run by the doc tests, because it writes to the machine's real keychain;
 * `tests/platform/keychain.test.ts` does the same under a throwaway keyring.
 *
 * @example
 * ```ts ignore
 * import { OsKeychain } from "./keychain.ts";
 *
 * const keychain = new OsKeychain();
 * await keychain.set("my-app", "user", "s3cret");
 * console.log(await keychain.get("my-app", "user")); // "s3cret"
 * await keychain.delete("my-app", "user");
 * ```
 */
export class OsKeychain implements Keychain {
  readonly #timeoutMs: number;

  /**
   * A handle on the platform keychain; nothing is loaded until the first call.
   *
   * @param options call timeout
   */
  constructor(options: OsKeychainOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async #call<T>(
    action: string,
    service: string,
    account: string,
    work: (entry: KeyringEntry, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    requireName(service, "service");
    requireName(account, "account");
    const Entry = await loadBinding();
    // A timer cleared after the call, not AbortSignal.timeout(), which keeps Deno alive until it fires.
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`timed out after ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      const entry = new Entry(service, account, { linux: { store: "secret-service" } });
      return await work(entry, controller.signal);
    } catch (error) {
      throw keychainError(`${action} ${service}/${account}`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** {@inheritDoc Keychain.get} */
  get(service: string, account: string): Promise<string | null> {
    return this.#call("reading", service, account, async (entry, signal) => {
      const secret = await entry.getSecret(signal);
      return secret === null || secret === undefined ? null : decoder.decode(new Uint8Array(secret));
    });
  }

  /** {@inheritDoc Keychain.set} */
  set(service: string, account: string, value: string): Promise<void> {
    return this.#call("writing", service, account, (entry, signal) => entry.setSecret(encoder.encode(value), signal));
  }

  /** {@inheritDoc Keychain.delete} */
  delete(service: string, account: string): Promise<boolean> {
    return this.#call("deleting", service, account, (entry, signal) => entry.deleteCredential(signal));
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The default keychain of this machine, or `null` when there clearly is none: on Linux and the
 * BSDs, the Secret Service needs a D-Bus session bus, so without `DBUS_SESSION_BUS_ADDRESS` there
 * is nothing to talk to. Whether a keychain that is present also works is known on first use.
 */
export function openDefaultKeychain(env: Record<string, string | undefined> = process.env): Keychain | null {
  const needsBus = process.platform !== "darwin" && process.platform !== "win32";
  if (needsBus && !env.DBUS_SESSION_BUS_ADDRESS) return null;
  return new OsKeychain();
}

/**
 * Whether `keychain` really stores secrets: writes, reads back and deletes a probe entry. A read
 * alone is not enough, since a Secret Service without an unlocked default collection answers
 * reads with "nothing there" and fails only on writes. A binding that did not load is rethrown
 * (see {@linkcode isKeychainBindingFailure}), not answered `false`: that is a broken install to
 * fix, and a caller that fell back to a key file would keep the key on disk for good.
 */
export async function keychainWorks(keychain: Keychain): Promise<boolean> {
  const service = "session-lifecycle-orchestrator-probe";
  const account = crypto.randomUUID();
  try {
    await keychain.set(service, account, "probe");
    const works = (await keychain.get(service, account)) === "probe";
    await keychain.delete(service, account);
    return works;
  } catch (error) {
    if (isKeychainBindingFailure(error)) throw error;
    return false;
  }
}
