/**
 * The OS keychain as the chain sees it: a tiny interface so any backend plugs in.
 * The default implementation over the platform's keychain is in `./platform`.
 *
 * @module
 */

/**
 * A store of small string secrets addressed by service and account, like the macOS Keychain,
 * the Windows Credential Manager or the Linux Secret Service. Failures are `SessionError`s.
 */
export interface Keychain {
  /** The stored value, or `null` when there is none. */
  get(service: string, account: string): Promise<string | null>;
  /** Stores or replaces a value. */
  set(service: string, account: string, value: string): Promise<void>;
  /** Removes a value; `true` when there was one. */
  delete(service: string, account: string): Promise<boolean>;
}
