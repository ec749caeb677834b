/**
 * Keeps a repository's configuration from running code through our git calls. A repository is
 * untrusted input: its `.git/config` (and whatever it includes) can name programs that git runs on
 * its own: hooks, an fsmonitor, filter drivers (activated by the repository's `.gitattributes`
 * on checkout, `add` and `status`), configured hooks (git 2.54+), transports for a lazy fetch of a
 * partial clone, a signing program. Every git call of this project carries the fixed settings and
 * environment below; a call that may touch the index or refs also switches off, one by one, every
 * filter driver and configured hook that its configuration could reach (git has no wildcard for
 * them).
 *
 * Keys that run commands but are never reached by the commands this project uses, and so are
 * not overridden: `diff.external` and `diff.<driver>.command`/`textconv` (no porcelain diff or log
 * is run; plumbing `diff-tree` and `cherry` use neither unless asked with `--ext-diff`/`--textconv`),
 * `merge.<driver>.driver` (no merge), `core.editor`/`sequence.editor` (nothing asks for a message;
 * the environment makes them `:` anyway), `core.pager`/`pager.*` (`--no-pager`, and output is never
 * a terminal), `core.sshCommand`, `core.gitProxy`, `remote.<name>.uploadpack`, `credential.*`,
 * `core.askPass`, `core.alternateRefsCommand` (all only used by a transport, and every transport
 * is refused), `uploadpack.packObjectsHook` (server side, and only from protected configuration).
 *
 * @module
 */

import { existsSync, readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { SessionError } from "../errors.ts";

/** Where no hook file can ever be found: `<hooksPath>/<hook>` is not a file. */
const NO_HOOKS = process.platform === "win32" ? "NUL" : "/dev/null";

/**
 * The `-c` settings of every git call. Given on the command line, they outrank every
 * configuration file, including files the repository includes.
 */
export const HARDENING_CONFIG: readonly string[] = [
  // Hooks: .git/hooks, or a hooks folder the repository names.
  `core.hooksPath=${NO_HOOKS}`,
  // Empty rather than `false`: git before 2.36 reads any non-empty value as the path of a hook.
  "core.fsmonitor=",
  // No command of ours recurses into submodules, whose own configuration we do not scan.
  "submodule.recurse=false",
  // `commit-tree` (the snapshot) would otherwise run `gpg.program`.
  "commit.gpgSign=false",
  // Automatic maintenance runs `git gc`, which runs `git worktree prune` and its own hooks.
  "gc.auto=0",
  "maintenance.auto=false",
];

/**
 * The environment of every git call, on top of the caller's. Refusing every transport means a
 * lazy fetch (a partial clone missing a blob on checkout) cannot run `remote.<name>.uploadpack`,
 * `core.sshCommand`, credential helpers or `ext::` commands from the repository's configuration:
 * `GIT_ALLOW_PROTOCOL` overrides every `protocol.*.allow` setting, and `GIT_NO_LAZY_FETCH`
 * (git 2.44+) stops the fetch before it starts.
 */
export const HARDENING_ENV: Readonly<Record<string, string>> = {
  GIT_ALLOW_PROTOCOL: "",
  GIT_NO_LAZY_FETCH: "1",
  GIT_EDITOR: ":",
  GIT_SEQUENCE_EDITOR: ":",
  GIT_TERMINAL_PROMPT: "0",
};

/**
 * What a git command could run from the repository's configuration, besides what the fixed
 * settings already switch off: `nothing` (it writes no ref or index and converts no content),
 * `hooks` (it writes refs, so a configured hook of git 2.54+ could run) or `filters` (it may also
 * read or write file contents or the index, so a filter driver could run). A command not known
 * here counts as `filters`, so a new command is safe by default.
 */
export type CommandReach = "nothing" | "hooks" | "filters";

const REACHES_NOTHING = new Set([
  "--version",
  "rev-parse",
  "check-ref-format",
  "show-ref",
  "for-each-ref",
  "rev-list",
  "merge-base",
  // Without `-p` it compares tree entries' object ids only, never file contents.
  "diff-tree",
  "config",
  "commit-tree",
  "var",
]);
// Commands that write refs but never the index: writing an index (even `write-tree`, to store its
// cache) re-reads racily clean files through their clean filter.
const REACHES_HOOKS = new Set(["branch", "update-ref"]);

/** What `args` (a git command line without global options) could run; see {@linkcode CommandReach}. */
export function commandReach(args: readonly string[]): CommandReach {
  const [command, ...rest] = args;
  if (command === undefined || REACHES_NOTHING.has(command)) return "nothing";
  if (REACHES_HOOKS.has(command)) return "hooks";
  // `symbolic-ref HEAD` reads; `symbolic-ref HEAD <ref>` writes.
  if (command === "symbolic-ref") return rest.filter((arg) => !arg.startsWith("-")).length === 1 ? "nothing" : "hooks";
  if (command === "worktree") {
    if (rest[0] === "list" || rest[0] === "prune" || rest[0] === "lock" || rest[0] === "unlock") return "nothing";
    // Without force, `worktree remove` runs `git status` in the worktree, which may clean-filter files.
    const options = rest.indexOf("--") === -1 ? rest : rest.slice(0, rest.indexOf("--"));
    if (rest[0] === "remove" && options.includes("--force")) return "hooks";
  }
  return "filters";
}

/** One `git config --show-scope --show-origin -z` record. */
interface ConfigRecord {
  scope: string;
  origin: string;
  key: string;
  value: string | null;
}

function parseConfigRecords(output: string): ConfigRecord[] {
  const fields = output.split("\0");
  const records: ConfigRecord[] = [];
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const entry = fields[i + 2];
    const newline = entry.indexOf("\n");
    records.push({
      scope: fields[i],
      origin: fields[i + 1],
      key: newline === -1 ? entry : entry.slice(0, newline),
      value: newline === -1 ? null : entry.slice(newline + 1),
    });
  }
  return records;
}

// The subsection of `section.<subsection>.key` when the key is in `section`, else null.
function subsectionOf(key: string, section: string): string | null {
  if (!key.startsWith(`${section}.`)) return null;
  const last = key.lastIndexOf(".");
  return last > section.length ? key.slice(section.length + 1, last) : null;
}

// Every file git may read as configuration of this repository that the current call does not
// show: other worktrees' `config.worktree` (read by the `status` that `worktree remove` runs in
// the worktree) and the configuration of submodules' git directories.
function unseenConfigFiles(commonDir: string): string[] {
  const files: string[] = [join(commonDir, "config.worktree")];
  const list = (folder: string) => {
    try {
      return readdirSync(folder, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  const skip = new Set(["objects", "refs", "logs", "hooks", "info", "lfs"]);
  const walkModules = (folder: string, depth: number) => {
    if (depth > 12) return;
    for (const item of list(folder)) {
      if (!item.isDirectory() || skip.has(item.name)) continue;
      const path = join(folder, item.name);
      files.push(join(path, "config"), join(path, "config.worktree"));
      walkModules(path, depth + 1);
    }
  };
  walkModules(join(commonDir, "modules"), 0);
  for (const worktree of list(join(commonDir, "worktrees"))) {
    if (!worktree.isDirectory()) continue;
    files.push(join(commonDir, "worktrees", worktree.name, "config.worktree"));
    walkModules(join(commonDir, "worktrees", worktree.name, "modules"), 0);
  }
  return files.filter((file) => existsSync(file));
}

/** Runs `git config` (or `rev-parse`) in the scanned folder with extra `-c` settings; see {@linkcode commandOverrides}. */
export type ConfigReader = (
  args: string[],
  extraConfig: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

const SCAN_PATTERN = String.raw`^(core\.repositoryformatversion|filter\..+\..+|hook\..+\..+|includeif\..+\.path)$`;

/**
 * The settings (name, value) that switch off every filter driver and every configured hook that
 * git, run in `cwd`, could read: from every configuration file it reads now, every file an
 * `includeIf` could add under another condition (another branch, another git directory), every
 * worktree's `config.worktree` and every submodule's configuration. A name that no command line
 * can carry is no problem: the settings go through `GIT_CONFIG_COUNT`.
 *
 * @param cwd the folder git will run in
 * @param read runs `git config` there, hardened but without this scan
 */
export async function commandOverrides(cwd: string, read: ConfigReader): Promise<Array<[string, string]>> {
  const drivers = new Set<string>();
  const hooks = new Set<string>();
  const included = new Set<string>();
  let commonDir: string | null = null;
  let pending: string[] = [];
  for (let round = 0;; round++) {
    if (round === 10) {
      // Git itself stops at 10 levels of includes; what is beyond is not scanned, so nothing runs.
      throw new SessionError("WorktreeCreation", `the configuration of ${cwd} includes files more than 10 levels deep`);
    }
    const result = await read(
      ["config", "-z", "--show-scope", "--show-origin", "--get-regexp", SCAN_PATTERN],
      [...included].map((file) => `include.path=${file}`),
    );
    // 1: nothing matched, which is fine.
    if (result.code !== 0 && result.code !== 1) {
      throw new SessionError(
        "WorktreeCreation",
        `reading the configuration of ${cwd} failed: ${result.stderr.trim() || `git exited with ${result.code}`}`,
      );
    }
    pending = [];
    for (const record of parseConfigRecords(result.stdout)) {
      const originFile = record.origin.startsWith("file:") ? resolve(cwd, record.origin.slice(5)) : null;
      const driver = subsectionOf(record.key, "filter");
      if (driver !== null) drivers.add(driver);
      const hook = subsectionOf(record.key, "hook");
      if (hook !== null) hooks.add(hook);
      if (
        record.key === "core.repositoryformatversion" && record.scope === "local" && originFile !== null &&
        basename(originFile) === "config"
      ) {
        // The repository's own config file is in the common git directory: no extra call to find it.
        commonDir = dirname(originFile);
      }
      if (record.key.startsWith("includeif.") && record.value !== null && record.value !== "") {
        const target = includeTarget(record.value, originFile);
        if (target !== null) pending.push(target);
      }
    }
    if (round === 0) {
      if (commonDir === null) commonDir = await commonDirOf(cwd, read);
      if (commonDir !== null) pending.push(...unseenConfigFiles(commonDir));
    }
    const fresh = pending.filter((file) => !included.has(file) && !file.includes("\n"));
    if (fresh.length === 0) break;
    for (const file of fresh) included.add(file);
  }
  const overrides: Array<[string, string]> = [];
  for (const driver of drivers) {
    // An empty command is no command, and without `required` a missing filter is no error.
    overrides.push(
      [`filter.${driver}.clean`, ""],
      [`filter.${driver}.smudge`, ""],
      [`filter.${driver}.process`, ""],
      [`filter.${driver}.required`, "false"],
    );
  }
  for (const hook of hooks) overrides.push([`hook.${hook}.enabled`, "false"]);
  return overrides;
}

// Where an include path points, resolved as git resolves it (`~/`, relative to the including file).
function includeTarget(value: string, originFile: string | null): string | null {
  if (value.startsWith("~/")) {
    const home = process.env.HOME ?? process.env.USERPROFILE;
    return home === undefined ? null : join(home, value.slice(2));
  }
  if (isAbsolute(value)) return value;
  return originFile === null ? null : resolve(dirname(originFile), value);
}

async function commonDirOf(cwd: string, read: ConfigReader): Promise<string | null> {
  const result = await read(["rev-parse", "--path-format=absolute", "--git-common-dir"], []);
  const line = result.stdout.trim();
  return result.code === 0 && line !== "" ? resolve(cwd, line) : null;
}
