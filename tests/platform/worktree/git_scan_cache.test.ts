// The configuration scan of git_guard.ts (which hooks and filters to switch off) is cached per
// repository and environment, keyed on the stat of every file it read: a change to any of them,
// one appearing or disappearing, makes the next call scan again, and a call served from the cache
// runs no extra git process. Real git, real files; counted in scans and processes, never timed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Git } from "../../../src/platform/git.ts";
import {
  type ConfigLocations,
  type ConfigReader,
  ConfigScanCache,
  plainCommonDir,
} from "../../../src/platform/git_guard.ts";
import { git, makeRepository, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { tempDir, temporaryEnv } from "../../fixtures/helpers.ts";

/** A cache over real git with its own system and global files, counting the scans it runs. */
function scanner(base: string) {
  const system = join(base, "system.config");
  const global = join(base, "global.config");
  const env = { ...process.env, GIT_CONFIG_SYSTEM: system, GIT_CONFIG_GLOBAL: global, HOME: base, LC_ALL: "C" };
  const locations: ConfigLocations = { system, home: base, globalOverride: global, systemOverride: system };
  const cache = new ConfigScanCache();
  let reads = 0;
  const reader = (cwd: string): ConfigReader => (args, extra) => {
    reads++;
    return new Promise((resolve) =>
      execFile(
        "git",
        [...extra.flatMap((c) => ["-c", c]), "-C", cwd, ...args],
        { env },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      )
    );
  };
  return {
    system,
    global,
    /** The overrides for `cwd` and whether this call had to scan. */
    async overrides(cwd: string): Promise<{ overrides: string[]; scanned: boolean }> {
      const before = reads;
      const overrides = await cache.overrides(cwd, reader(cwd), "test", locations);
      return { overrides: overrides.map(([key, value]) => `${key}=${value}`), scanned: reads > before };
    },
    /**
     * Calls until an answer comes from the cache: a file changed within two seconds is pinned by
     * its content as well, which takes one more scan; more than two means the cache never serves.
     */
    async settled(cwd: string): Promise<string[]> {
      for (let call = 0; call < 3; call++) {
        const { overrides, scanned } = await this.overrides(cwd);
        if (!scanned) return overrides;
      }
      assert.fail(`the scan of ${cwd} is never served from the cache`);
    },
  };
}

test("a cached scan sees every change to the files it read, and serves nothing stale", async () => {
  using dir = tempDir("slo-scan-");
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const scan = scanner(dir.path);
  assert.equal((await scan.overrides(repo)).scanned, true);
  assert.deepEqual(await scan.settled(repo), []);

  // The repository's own file: a configured hook and a filter added after a cached call.
  git(repo, "config", "hook.evil.command", "touch /tmp/never");
  git(repo, "config", "filter.evil.clean", "touch /tmp/never");
  let next = await scan.overrides(repo);
  assert.equal(next.scanned, true);
  assert.ok(next.overrides.includes("hook.evil.enabled=false"));
  assert.ok(next.overrides.includes("filter.evil.clean="));
  assert.ok((await scan.settled(repo)).includes("filter.evil.clean="));

  // A plain include, its file rewritten with the same size and the same mtime.
  const extra = join(repo, ".git", "extra.config");
  writeFileSync(extra, `[filter "aaaa"]\n\tclean = x\n`);
  git(repo, "config", "include.path", "extra.config");
  assert.ok((await scan.settled(repo)).includes("filter.aaaa.clean="));
  const { mtime } = statSync(extra);
  writeFileSync(extra, `[filter "bbbb"]\n\tclean = x\n`);
  utimesSync(extra, mtime, mtime);
  next = await scan.overrides(repo);
  assert.equal(next.scanned, true);
  assert.ok(next.overrides.includes("filter.bbbb.clean="));
  assert.ok(!next.overrides.includes("filter.aaaa.clean="));
  await scan.settled(repo);

  // A conditional include whose file does not exist yet, then appears, then goes away.
  git(repo, "config", "includeIf.onbranch:later/**.path", "later.config");
  await scan.settled(repo);
  writeFileSync(join(repo, ".git", "later.config"), `[filter "later"]\n\tsmudge = x\n`);
  assert.ok((await scan.overrides(repo)).overrides.includes("filter.later.smudge="));
  await scan.settled(repo);
  rmSync(join(repo, ".git", "later.config"));
  next = await scan.overrides(repo);
  assert.equal(next.scanned, true);
  assert.ok(!next.overrides.includes("filter.later.smudge="));

  // The global and the system files, appearing.
  await scan.settled(repo);
  writeFileSync(scan.global, `[filter "global"]\n\tclean = x\n`);
  assert.ok((await scan.overrides(repo)).overrides.includes("filter.global.clean="));
  await scan.settled(repo);
  writeFileSync(scan.system, `[hook "system"]\n\tcommand = x\n`);
  assert.ok((await scan.overrides(repo)).overrides.includes("hook.system.enabled=false"));

  // Another worktree's config.worktree, appearing; every folder of the repository shares the answer.
  const worktree = join(dir.path, "wt");
  git(repo, "worktree", "add", "-q", "-b", "wt", "--", worktree, "main");
  await scan.settled(repo);
  assert.equal((await scan.overrides(worktree)).scanned, false);
  mkdirSync(join(repo, ".git", "worktrees", "wt"), { recursive: true });
  writeFileSync(join(repo, ".git", "worktrees", "wt", "config.worktree"), `[filter "wtconf"]\n\tclean = x\n`);
  next = await scan.overrides(worktree);
  assert.equal(next.scanned, true);
  assert.ok(next.overrides.includes("filter.wtconf.clean="));

  // The folder becomes another repository: its answer is not the old one's.
  await scan.settled(worktree);
  rmSync(worktree, { recursive: true });
  makeRepository(worktree);
  next = await scan.overrides(worktree);
  assert.equal(next.scanned, true);
  assert.ok(!next.overrides.includes("filter.wtconf.clean="));
  assert.ok(!next.overrides.includes("filter.evil.clean="));
});

test("a filter configured after cached calls still never runs", async () => {
  using dir = tempDir("slo-scan-filter-");
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  writeFileSync(join(repo, ".gitattributes"), "*.txt filter=evil\n");
  writeFileSync(join(repo, "a.txt"), "a\n");
  git(repo, "add", "--all");
  git(repo, "commit", "-q", "-m", "attributes");
  const runner = new Git();
  for (let i = 0; i < 3; i++) assert.equal((await runner.run(repo, ["status", "--porcelain"])).code, 0);

  const marker = join(dir.path, "ran");
  const script = join(dir.path, "evil");
  writeFileSync(script, `#!/bin/sh\necho ran >> '${marker}'\nexec cat\n`, { mode: 0o755 });
  git(repo, "config", "filter.evil.clean", script);
  git(repo, "config", "filter.evil.required", "true");
  writeFileSync(join(repo, "a.txt"), "changed\n");
  assert.equal((await runner.run(repo, ["add", "a.txt"])).code, 0);
  assert.throws(() => readFileSync(marker), "the filter ran through our git");
  // Control: plain git runs it.
  writeFileSync(join(repo, "a.txt"), "changed again\n");
  git(repo, "add", "a.txt");
  assert.match(readFileSync(marker, "utf8"), /ran/);
});

test("an open + close served from the cache runs fewer git processes and no configuration scan", async () => {
  using f = await worktreeFixture();
  const trace = join(f.dir, "trace");
  using _trace = temporaryEnv("GIT_TRACE", trace);
  const cycle = async (i: number) => {
    writeFileSync(trace, "");
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: `w${i}`,
      isWorktree: true,
    });
    await f.orchestrator.deleteSession(session.id, { deleteBranch: true });
    const processes = readFileSync(trace, "utf8").split("\n").filter((line) => line.includes("trace: built-in: git"));
    return { processes: processes.length, scans: processes.filter((line) => line.includes("--get-regexp")).length };
  };
  const first = await cycle(0);
  assert.ok(first.scans > 0);
  let warm = first;
  for (let i = 1; i < 4 && warm.scans > 0; i++) warm = await cycle(i);
  assert.equal(warm.scans, 0, "every open + close scans the configuration again");
  assert.ok(warm.processes <= first.processes - first.scans, `${warm.processes} processes, ${first.processes} cold`);
});

test("a folder whose git directory git would no longer take gets the answer of the repository git finds", async () => {
  using dir = tempDir("slo-scan-nested-");
  const outer = join(dir.path, "outer");
  makeRepository(outer);
  git(outer, "config", "filter.outer.clean", "x");
  const nested = join(outer, "nested");
  makeRepository(nested);
  git(nested, "config", "filter.nested.clean", "x");
  assert.equal(plainCommonDir(nested), join(nested, ".git"));
  mkdirSync(join(outer, "src", "deep"), { recursive: true });
  assert.equal(plainCommonDir(join(outer, "src", "deep")), join(outer, ".git"));
  const scan = scanner(dir.path);
  assert.ok((await scan.settled(nested)).includes("filter.nested.clean="));
  // A HEAD that is no ref: git skips this `.git` and takes the outer repository.
  writeFileSync(join(nested, ".git", "HEAD"), "garbage\n");
  assert.equal(plainCommonDir(nested), null);
  const next = await scan.overrides(nested);
  assert.equal(next.scanned, true);
  assert.ok(next.overrides.includes("filter.outer.clean="));
  assert.ok(!next.overrides.includes("filter.nested.clean="));
  // An empty `.git` folder is no repository either.
  mkdirSync(join(outer, "empty", ".git"), { recursive: true });
  assert.equal(plainCommonDir(join(outer, "empty")), null);
});
