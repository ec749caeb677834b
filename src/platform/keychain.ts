/**
 * The OS keychain over `@napi-rs/keyring`: one maintained native binding for the macOS Keychain,
 * the Windows Credential Manager and the Linux Secret Service that loads in Deno, Bun and Node.
 * Secrets go to the binding in memory, never through a command line.
 *
 * @module
 */

import process from "node:process";
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
      throw new SessionError("Storage", "the OS keychain binding (@napi-rs/keyring) could not be loaded", {
        cause: error,
      });
    },
  );
  return binding;
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
 * there is no session bus, the keyring is locked or access is denied. On Linux entries are pinned
 * to the Secret Service: the binding would otherwise fall back to the kernel keyring, which does
 * not survive a reboot and would hide a missing keyring behind empty reads.
 *
 * The example is not run by the doc tests, because it writes to the machine's real keychain;
 * `tests/keychain.test.ts` does the same under a throwaway keyring.
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
 * reads with "nothing there" and fails only on writes.
 */
export async function keychainWorks(keychain: Keychain): Promise<boolean> {
  const service = "session-lifecycle-orchestrator-probe";
  const account = crypto.randomUUID();
  try {
    await keychain.set(service, account, "probe");
    const works = (await keychain.get(service, account)) === "probe";
    await keychain.delete(service, account);
    return works;
  } catch {
    return false;
  }
}
