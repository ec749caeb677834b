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

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
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
// show, whether it exists or not: other worktrees' `config.worktree` (read by the `status` that
// `worktree remove` runs in the worktree) and the configuration of submodules' git directories.
function configCandidates(commonDir: string): string[] {
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
  return files;
}

/** Runs `git config` (or `rev-parse`) in the scanned folder with extra `-c` settings; see {@linkcode commandOverrides}. */
export type ConfigReader = (
  args: string[],
  extraConfig: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

const SCAN_PATTERN = String
  .raw`^(core\.repositoryformatversion|filter\..+\..+|hook\..+\..+|includeif\..+\.path|include\.path)$`;

/** What one scan found, and what it read to find it. */
interface Scan {
  overrides: Array<[string, string]>;
  /** The common git directory, when the scan found one. */
  commonDir: string | null;
  /** Every configuration file the scan showed a setting from, or that an include names. */
  files: Set<string>;
  /** False when something the scan read cannot be pinned by files (an include git resolves in its own way). */
  pinnable: boolean;
}

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
  return (await scanConfiguration(cwd, read)).overrides;
}

async function scanConfiguration(cwd: string, read: ConfigReader): Promise<Scan> {
  const drivers = new Set<string>();
  const hooks = new Set<string>();
  const included = new Set<string>();
  const files = new Set<string>();
  let pinnable = true;
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
      if (originFile !== null) files.add(originFile);
      else if (record.scope !== "command") pinnable = false;
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
      const isInclude = record.key === "include.path";
      if ((isInclude || record.key.startsWith("includeif.")) && record.value !== null && record.value !== "") {
        const target = includeTarget(record.value, originFile);
        if (target === null) {
          pinnable = false;
          continue;
        }
        // Git follows a plain include itself; the file is only pinned, so that a change to it is seen.
        files.add(target);
        if (!isInclude) pending.push(target);
      }
    }
    if (round === 0) {
      if (commonDir === null) commonDir = await commonDirOf(cwd, read);
      if (commonDir !== null) pending.push(...configCandidates(commonDir).filter((file) => existsSync(file)));
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
  return { overrides, commonDir, files, pinnable };
}

// Where an include path points, resolved as git resolves it (`~/`, relative to the including file);
// null when git would resolve it in a way not followed here (`%(prefix)/`, `~user/`).
function includeTarget(value: string, originFile: string | null): string | null {
  if (value.startsWith("~/")) {
    const home = process.env.HOME ?? process.env.USERPROFILE;
    return home === undefined ? null : join(home, value.slice(2));
  }
  if (value.startsWith("~") || value.startsWith("%(")) return null;
  if (isAbsolute(value)) return value;
  return originFile === null ? null : resolve(dirname(originFile), value);
}

async function commonDirOf(cwd: string, read: ConfigReader): Promise<string | null> {
  const result = await read(["rev-parse", "--path-format=absolute", "--git-common-dir"], []);
  const line = result.stdout.trim();
  return result.code === 0 && line !== "" ? resolve(cwd, line) : null;
}

// ---------------------------------------------------------------------------------------------
// The scan's cache. A scan costs one or two git processes; its answer only changes when a file it
// read changes, or when one appears that it would have read. So it is kept per folder and
// environment, with the stat of every file it depends on, and served only while every one of
// them is unchanged (one appearing or disappearing included).

/** Where git, run with one environment, reads its system and global configuration. */
export interface ConfigLocations {
  /** The system file, or null when it cannot be known (then nothing is cached). */
  system: string | null;
  /** `$HOME`, or null when unset (then nothing is cached). */
  home: string | null;
  /** `$XDG_CONFIG_HOME`, when set. */
  xdgConfigHome?: string;
  /** `$GIT_CONFIG_GLOBAL`, when set. */
  globalOverride?: string;
  /** `$GIT_CONFIG_SYSTEM`, when set. */
  systemOverride?: string;
}

// A file's identity and version: `dev:ino:size:mtime:ctime`, `dir:dev:ino` for a folder, `-` when absent.
function stampOf(path: string): { stamp: string; changedMs: number; isFile: boolean } {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return { stamp: `dir:${stat.dev}:${stat.ino}`, changedMs: 0, isFile: false };
    return {
      stamp: `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`,
      changedMs: Math.max(stat.mtimeMs, stat.ctimeMs),
      isFile: stat.isFile() && stat.size <= MAX_PINNED_CONTENT,
    };
  } catch {
    return { stamp: "-", changedMs: 0, isFile: false };
  }
}

const MAX_PINNED_CONTENT = 1024 * 1024;
// A file changed this recently may change again within the same timestamp tick (coarse file systems
// count whole seconds, or two): its stat alone cannot tell, so its content is compared too.
const RACY_MS = 2_000;

interface Pin {
  stamp: string;
  /** The content, for a file changed within RACY_MS of the scan. */
  content?: string;
}

function readContent(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

function pinOf(path: string, since: number): Pin {
  const { stamp, changedMs, isFile } = stampOf(path);
  if (!isFile || changedMs < since - RACY_MS) return { stamp };
  return { stamp, content: readContent(path) ?? "\0unreadable" };
}

function samePins(a: Pin, b: Pin): boolean {
  return a.stamp === b.stamp && a.content === b.content;
}

function samePin(path: string, pin: Pin): boolean {
  if (stampOf(path).stamp !== pin.stamp) return false;
  return pin.content === undefined || readContent(path) === pin.content;
}

// The files that decide which repository git finds from `cwd`: `.git` in `cwd` and each folder
// above it up to the first that has one, and, for a `.git` file, the git directory it names and
// that directory's `commondir`.
function discoveryFiles(cwd: string): string[] {
  const files: string[] = [cwd];
  for (let folder = resolve(cwd);;) {
    const dotGit = join(folder, ".git");
    files.push(dotGit, join(folder, "HEAD"));
    if (existsSync(dotGit)) {
      const gitdir = /^gitdir: (.+)$/m.exec(readContent(dotGit) ?? "")?.[1]?.trim();
      // The git directory (the folder itself, or the one a `.git` file names) and what makes it one.
      const dir = gitdir === undefined ? dotGit : resolve(folder, gitdir);
      files.push(dir, join(dir, "commondir"), join(dir, "HEAD"), join(dir, "objects"), join(dir, "refs"));
      break;
    }
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  return files;
}

/** The git directory of a worktree and the common git directory of its repository. */
export interface GitDirectories {
  /** The worktree's own git directory (`.git`, or `<common>/worktrees/<name>`). */
  gitDir: string;
  /** The repository's common git directory. */
  commonDir: string;
}

/**
 * The git directories git finds from `cwd` in the plain layouts (a `.git` folder, or a `.git`
 * file naming a worktree's git directory), read from the files without running git; null for
 * anything else (a bare repository, a folder inside a git directory, a `.git` file that does not
 * say `gitdir:`), and then the caller runs git to know.
 */
export function plainGitDirectories(cwd: string): GitDirectories | null {
  for (let folder = resolve(cwd);;) {
    // A folder that looks like a git directory itself is one to git: not a plain layout.
    if (existsSync(join(folder, "HEAD"))) return null;
    const dotGit = join(folder, ".git");
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dotGit).isDirectory();
    } catch {
      const parent = dirname(folder);
      if (parent === folder) return null;
      folder = parent;
      continue;
    }
    if (isDirectory) {
      if (existsSync(join(dotGit, "commondir"))) return null;
      return looksLikeGitDir(dotGit, dotGit) ? { gitDir: dotGit, commonDir: dotGit } : null;
    }
    const gitdir = /^gitdir: (.+)$/m.exec(readContent(dotGit) ?? "")?.[1]?.trim();
    if (gitdir === undefined) return null;
    const dir = resolve(folder, gitdir);
    const common = readContent(join(dir, "commondir"))?.trim();
    const commonDir = common === undefined || common === "" ? dir : resolve(dir, common);
    return looksLikeGitDir(dir, commonDir) ? { gitDir: dir, commonDir } : null;
  }
}

// What git asks of a git directory before it takes it (else it looks further up): a HEAD that
// names a ref or a commit, and the objects and refs folders.
function looksLikeGitDir(gitDir: string, commonDir: string): boolean {
  const head = readContent(join(gitDir, "HEAD"))?.trim() ?? "";
  if (!/^(ref: refs\/\S+|[0-9a-f]{40}|[0-9a-f]{64})$/.test(head)) return false;
  try {
    return statSync(join(commonDir, "objects")).isDirectory() && statSync(join(commonDir, "refs")).isDirectory();
  } catch {
    return false;
  }
}

/** The common git directory of {@linkcode plainGitDirectories}, or null. */
export function plainCommonDir(cwd: string): string | null {
  return plainGitDirectories(cwd)?.commonDir ?? null;
}

function standardFiles(locations: ConfigLocations, commonDir: string): string[] | null {
  if (locations.system === null || locations.home === null) return null;
  const files = [
    locations.system,
    join(locations.xdgConfigHome ?? join(locations.home, ".config"), "git", "config"),
    join(locations.home, ".gitconfig"),
    join(commonDir, "config"),
  ];
  if (locations.globalOverride !== undefined) files.push(locations.globalOverride);
  if (locations.systemOverride !== undefined) files.push(locations.systemOverride);
  return files;
}

interface CachedScan {
  overrides: Array<[string, string]>;
  commonDir: string;
  pins: Map<string, Pin>;
  /** False when a file changed during the scan: then the entry only says what to pin next time. */
  servable: boolean;
}

const MAX_CACHED_SCANS = 256;

/**
 * A cache of {@linkcode commandOverrides} answers, one per folder and environment. An answer is
 * served only while every file it depends on has the stat it had (device, inode, size, mtime,
 * ctime; for a file changed within two seconds of the scan, its content too): the system, global,
 * repository and worktree configuration files, every file a setting came from or an include
 * names, every other worktree's and submodule's configuration, and the `.git` files that decide
 * which repository git finds. A change to any of them, one appearing or one disappearing, means a
 * new scan.
 */
export class ConfigScanCache {
  readonly #entries = new Map<string, CachedScan>();

  /**
   * What {@linkcode commandOverrides} answers for `cwd`, scanned again only when a file it read changed.
   *
   * @param cwd the folder git will run in
   * @param read runs `git config` there, hardened but without this scan
   * @param environment every setting of git's environment that can change what it reads (the cache key)
   * @param locations where git reads its system and global files with that environment
   */
  async overrides(
    cwd: string,
    read: ConfigReader,
    environment: string,
    locations: ConfigLocations,
  ): Promise<Array<[string, string]>> {
    // Every folder of one repository gets the same answer (the scan covers every worktree's and
    // submodule's files, whatever the folder), so the common directory is the key where the files
    // say plainly which one git will find; the folder itself elsewhere.
    const common = plainCommonDir(cwd);
    const byCommon = common !== null && !environment.includes('"GIT_DIR"') && !environment.includes('"GIT_COMMON_DIR"');
    const key = byCommon ? `common:${common}\0${environment}` : `cwd:${cwd}\0${environment}`;
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      this.#entries.delete(key);
      if (cached.servable && this.#fresh(cached)) {
        // Most recently used last, so that the oldest is dropped first.
        this.#entries.set(key, cached);
        return cached.overrides;
      }
    }
    const started = Date.now();
    // What is known before the scan (from the last scan here) is pinned before it too, so that a
    // change while it runs is seen.
    const before = new Map<string, Pin>();
    for (const file of [...discoveryFiles(cwd), ...(cached?.pins.keys() ?? [])]) before.set(file, pinOf(file, started));
    const scan = await scanConfiguration(cwd, read);
    const standard = scan.commonDir === null ? null : standardFiles(locations, scan.commonDir);
    if (!scan.pinnable || scan.commonDir === null || standard === null) return scan.overrides;
    // Keyed by a common directory that git did not confirm: kept under the folder instead.
    const storeKey = byCommon && scan.commonDir !== common ? `cwd:${cwd}\0${environment}` : key;
    const candidates = configCandidates(scan.commonDir);
    const pins = new Map<string, Pin>();
    let servable = true;
    const discovery = storeKey === key && byCommon ? [] : discoveryFiles(cwd);
    for (const file of [...discovery, ...standard, ...candidates, ...scan.files]) {
      if (pins.has(file)) continue;
      const pin = pinOf(file, started);
      const earlier = before.get(file);
      // Changed while the scan ran, or (not pinned before it) so recently that the scan may have
      // read another version: not served, but the next scan pins it before it starts.
      if (earlier === undefined ? pin.content !== undefined : !samePins(earlier, pin)) servable = false;
      pins.set(file, pin);
    }
    this.#entries.set(storeKey, { overrides: scan.overrides, commonDir: scan.commonDir, pins, servable });
    if (this.#entries.size > MAX_CACHED_SCANS) this.#entries.delete(this.#entries.keys().next().value!);
    return scan.overrides;
  }

  /** Forgets every answer. */
  clear(): void {
    this.#entries.clear();
  }

  #fresh(entry: CachedScan): boolean {
    for (const [file, pin] of entry.pins) if (!samePin(file, pin)) return false;
    // A worktree's or submodule's configuration file that appeared since (one that went away
    // changed its pin).
    return configCandidates(entry.commonDir).every((file) => entry.pins.has(file) || !existsSync(file));
  }
}
