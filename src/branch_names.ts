/**
 * Branch names git accepts and nothing could misread: the one rule for every branch the project names
 * or is given. `mod.ts` exports {@linkcode branchNameProblem}.
 *
 * @module
 */

import { invalid, invisibleProblem, requireName, utf8ByteLength } from "./_field_checks.ts";
import { MAX_BRANCH_COMPONENT_BYTES, MAX_BRANCH_NAME_BYTES } from "./limits.ts";

/**
 * A branch name git accepts (`git check-ref-format --branch` rules), refusing anything that
 * could be read as an option, anything invisible, names not in NFC, and names over
 * {@linkcode MAX_BRANCH_NAME_BYTES} bytes (or a component over {@linkcode MAX_BRANCH_COMPONENT_BYTES}).
 * Checked here in full so that a bad name never reaches git.
 */
export function requireBranchName(
  value: unknown,
  field = "branchName",
): string {
  const name = requireName(value, field, MAX_BRANCH_NAME_BYTES);
  const reason = branchNameProblem(name);
  if (reason) {
    invalid(
      `${field} ${JSON.stringify(name)} is not a valid branch name: ${reason}`,
    );
  }
  return name;
}

/**
 * Why `name` is refused as a branch (git would refuse it, it could be read as an option, it has an
 * invisible character, it is not in NFC, or it is too long in bytes), or `null` when it is fine.
 */
export function branchNameProblem(name: string): string | null {
  if (name.startsWith("-")) return 'it starts with "-"';
  if (name === "HEAD" || name === "@") return "it is reserved";
  const invisible = invisibleProblem(name, true);
  if (invisible !== null) return invisible;
  if (/[\s~^:?*[\\]/.test(name)) return "it contains whitespace or one of ~^:?*[\\";
  if (name !== name.normalize("NFC")) return "it is not in Unicode normalization form C (NFC)";
  if (utf8ByteLength(name) > MAX_BRANCH_NAME_BYTES) return `it is longer than ${MAX_BRANCH_NAME_BYTES} bytes in UTF-8`;
  if (name.includes("..")) return 'it contains ".."';
  if (name.includes("@{")) return 'it contains "@{"';
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    return "it has an empty path component";
  }
  if (name.endsWith(".")) return 'it ends with "."';
  for (const component of name.split("/")) {
    if (component.startsWith(".")) return 'a component starts with "."';
    if (component.endsWith(".lock")) return 'a component ends with ".lock"';
    if (utf8ByteLength(component) > MAX_BRANCH_COMPONENT_BYTES) {
      return `a component is longer than ${MAX_BRANCH_COMPONENT_BYTES} bytes in UTF-8`;
    }
  }
  return null;
}
