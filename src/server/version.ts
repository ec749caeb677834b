/**
 * The package's version, as the server reports it in its discovery file and the command line in
 * `slo --version`. A test keeps it equal to `deno.json`'s.
 * Internal: not in the package's exports.
 *
 * @module
 */

/** The package's version (deno.json's `version`). */
export const VERSION = "0.1.0";
