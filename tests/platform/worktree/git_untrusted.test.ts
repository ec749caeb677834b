// A repository is untrusted input: its hooks, fsmonitor, filter drivers (activated by its
// .gitattributes), configured hooks, included configuration, signing program and transports must
// never run through our git calls. Each vector writes a marker file when it runs; a control test
// shows that plain git does run them, so the fixture is live.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../../mod.ts";
import { Git } from "../../../src/platform/git.ts";
import { type CommandReach, commandReach } from "../../../src/platform/git_guard.ts";
import { git, makeRepository, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { tempDir } from "../../fixtures/helpers.ts";

const HOOKS = [
  "post-checkout",
  "reference-transaction",
  "post-index-change",
  "pre-commit",
  "post-commit",
  "pre-auto-gc",
  "post-rewrite",
  "pre-push",
];

interface Hostile {
  /** Where every vector writes its marker. */
  markers: string;
  /** The names of the markers written so far. */
  ran(): string[];
}

/** A script in `bin/` that records `name` in the markers folder, then optionally sleeps or passes stdin through. */
function markerScript(base: string, name: string, then = ""): string {
  const bin = join(base, "bin");
  mkdirSync(bin, { recursive: true });
  const path = join(bin, name);
  writeFileSync(path, `#!/bin/sh\necho "$0 $*" >> '${join(base, "markers", name)}'\n${then}\n`, { mode: 0o755 });
  return path;
}

/**
 * Turns the repository at `repo` (made by makeRepository) hostile. Files that activate the
 * filters are committed first, with plain git, while nothing is configured yet.
 */
function makeHostile(base: string, repo: string, hooksVia: "git-dir" | "hooks-path", then = ""): Hostile {
  const markers = join(base, "markers");
  mkdirSync(markers, { recursive: true });
  writeFileSync(
    join(repo, ".gitattributes"),
    "*.txt filter=evil\n*.dat filter=evilproc\n*.inc filter=included\n*.br filter=branchy\n*.wt filter=wtconf\n",
  );
  for (const name of ["a.txt", "b.dat", "c.inc", "d.br", "e.wt"]) writeFileSync(join(repo, name), `${name}\n`);
  git(repo, "add", "--all");
  git(repo, "commit", "-q", "-m", "attributes");

  const hooksDir = hooksVia === "git-dir" ? join(repo, ".git", "hooks") : join(base, "hooks-dir");
  mkdirSync(hooksDir, { recursive: true });
  for (const hook of HOOKS) {
    writeFileSync(join(hooksDir, hook), `#!/bin/sh\necho ran >> '${join(markers, `hook-${hook}`)}'\n${then}\n`, {
      mode: 0o755,
    });
  }
  const pass = `${then}\nexec cat`;
  const extra = join(repo, ".git", "extra.config");
  writeFileSync(
    extra,
    `[filter "included"]\n\tsmudge = ${markerScript(base, "included-smudge", pass)}\n\tclean = ${
      markerScript(base, "included-clean", pass)
    }\n[core]\n\thooksPath = ${hooksDir}\n`,
  );
  // Only read by git run on such a branch: the child `git worktree add` starts on the new branch.
  writeFileSync(
    join(repo, ".git", "branch.config"),
    `[filter "branchy"]\n\tsmudge = ${markerScript(base, "branchy-smudge", pass)}\n`,
  );
  const settings: Array<[string, string]> = [
    ["core.fsmonitor", markerScript(base, "fsmonitor", then)],
    ["filter.evil.smudge", markerScript(base, "evil-smudge", pass)],
    ["filter.evil.clean", markerScript(base, "evil-clean", pass)],
    ["filter.evil.required", "true"],
    ["filter.evilproc.process", markerScript(base, "evilproc-process", then)],
    ["filter.evilproc.required", "true"],
    ["include.path", "extra.config"],
    ["includeIf.onbranch:session/**.path", "branch.config"],
    // Configured hooks (git 2.54 and later run them whatever core.hooksPath says).
    ["hook.evil.command", markerScript(base, "configured-hook", then)],
    ["hook.evil.event", "post-checkout"],
    ["commit.gpgSign", "true"],
    ["gpg.program", markerScript(base, "gpg", then)],
    ["extensions.worktreeConfig", "true"],
    ["core.sshCommand", markerScript(base, "ssh", then)],
    ["gc.auto", "1"],
  ];
  if (hooksVia === "hooks-path") settings.push(["core.hooksPath", hooksDir]);
  for (const [key, value] of settings) git(repo, "config", "--add", key, value);
  git(repo, "config", "--add", "hook.evil.event", "reference-transaction");
  return { markers, ran: () => readdirSync(markers).sort() };
}

/** Gives the worktree `name` of `repo` a config.worktree with a clean filter, and makes `e.wt` look modified. */
function plantWorktreeConfig(base: string, repo: string, name: string, worktree: string): void {
  writeFileSync(
    join(repo, ".git", "worktrees", name, "config.worktree"),
    `[filter "wtconf"]\n\tclean = ${markerScript(base, "wtconf-clean", "exec cat")}\n`,
  );
  // Another mtime makes the entry stat-dirty, so a status compares its content through the filter.
  utimesSync(join(worktree, "e.wt"), new Date(2001, 0, 1), new Date(2001, 0, 1));
}

test("control: plain git runs every vector of the hostile fixture", () => {
  using dir = tempDir("slo-hostile-");
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const hostile = makeHostile(dir.path, repo, "git-dir");
  const run = (cwd: string, ...args: string[]) =>
    spawnSync("git", ["-C", cwd, ...args], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  // evilproc's process filter speaks no filter protocol and fails the checkout once it ran, so
  // it is tried apart from the others.
  run(
    repo,
    "-c",
    "filter.evilproc.process=",
    "-c",
    "filter.evilproc.required=false",
    "worktree",
    "add",
    "-b",
    "session/control",
    join(dir.path, "a"),
    "main",
  );
  run(repo, "worktree", "add", "--detach", join(dir.path, "b"), "main");
  run(repo, "status");
  const ran = hostile.ran();
  for (
    const marker of [
      "hook-post-checkout",
      "hook-reference-transaction",
      "evil-smudge",
      "evilproc-process",
      "included-smudge",
      "branchy-smudge",
      "fsmonitor",
    ]
  ) assert.ok(ran.includes(marker), `${marker} did not run under plain git: ${ran.join(", ")}`);
});

test("no Git method runs hooks, fsmonitor, filters, included config or signing from the repository", async () => {
  for (const hooksVia of ["git-dir", "hooks-path"] as const) {
    using dir = tempDir("slo-hostile-");
    const repo = join(dir.path, "repo");
    makeRepository(repo);
    const hostile = makeHostile(dir.path, repo, hooksVia);
    const g = new Git();
    const info = await g.repositoryInfo(repo);
    assert.equal(await g.currentBranch(repo), "main");
    await g.checkBranchName(repo, "session/a");
    assert.equal(await g.branchExists(repo, "session/a"), false);
    const head = await g.resolveCommit(repo, "HEAD");
    assert.ok(head !== null);

    const a = join(dir.path, "wt", "a");
    await g.addWorktree(info.topLevel, a, "session/a", "main");
    plantWorktreeConfig(dir.path, repo, "a", a);
    await g.removeWorktree(repo, a); // clean: git's own status check runs in the worktree
    await g.addWorktree(repo, a, "session/a", null); // an existing branch
    writeFileSync(join(a, "a.txt"), "changed\n");
    writeFileSync(join(a, "new.txt"), "new\n");
    const ref = await g.snapshotWorktree(a, "0d1c2b3a-0000-4000-8000-000000000001");
    assert.equal(ref, "refs/session-snapshots/0d1c2b3a-0000-4000-8000-000000000001");
    await assert.rejects(g.removeWorktree(repo, a), (e) => e instanceof SessionError && e.kind === "Conflict");
    await g.removeWorktree(repo, a, 1);

    const b = join(dir.path, "wt", "b");
    await g.addWorktree(repo, b, "session/b", "HEAD");
    rmSync(b, { recursive: true });
    await g.forgetMissingWorktree(repo, b);
    assert.deepEqual((await g.listWorktrees(repo)).map((entry) => entry.path), [repo]);
    assert.equal(await g.upstreamOf(repo, "session/a"), null);
    assert.equal(await g.commitsNotOn(repo, "session/a", ["main"]), 0);
    await g.deleteBranch(repo, "session/a");
    await g.deleteBranch(repo, "session/b");
    assert.equal((await g.run(repo, ["status", "--porcelain"])).code, 0);
    assert.deepEqual(hostile.ran(), [], hooksVia);
  }
});

test("WorktreeLifecycle open, close (plain and forced) and reconcile run nothing from the repository", async () => {
  using f = await worktreeFixture();
  const hostile = makeHostile(f.dir, f.repositoryPath, "hooks-path");
  const open = (name: string) =>
    f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: name,
      worktreeName: name,
      isWorktree: true,
    });
  const plain = await open("plain");
  plantWorktreeConfig(f.dir, f.repositoryPath, "plain", plain.worktreePath!);
  await f.orchestrator.deleteSession(plain.id, { deleteBranch: true });

  const forced = await open("forced");
  writeFileSync(join(forced.worktreePath!, "a.txt"), "unsaved\n");
  writeFileSync(join(forced.worktreePath!, "untracked.dat"), "unsaved\n");
  const closed = await f.orchestrator.deleteSession(forced.id, { force: true, deleteBranch: true });
  assert.equal(closed?.worktreeRemoved, true);

  const lost = await open("lost");
  rmSync(lost.worktreePath!, { recursive: true });
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [
    ["stale-registration", "pruned"],
    ["missing-worktree", "recreated"],
  ]);
  await f.orchestrator.deleteSession(lost.id, { deleteBranch: true });
  assert.deepEqual(hostile.ran(), []);
  assert.equal(
    (await new Git().run(f.repositoryPath, ["show-ref", "--verify", `refs/session-snapshots/${forced.id}`])).code,
    0,
  );
});

test("a partial clone never fetches through the repository's upload-pack or credential settings", async () => {
  using f = await worktreeFixture();
  const origin = join(f.dir, "origin");
  makeRepository(origin);
  writeFileSync(join(origin, "blob.txt"), "only in origin\n");
  git(origin, "add", "blob.txt");
  git(origin, "commit", "-q", "-m", "blob");
  git(origin, "config", "uploadpack.allowFilter", "true");
  const clone = join(f.dir, "clone");
  const cloned = spawnSync("git", ["clone", "-q", "--no-checkout", "--filter=blob:none", `file://${origin}`, clone]);
  assert.equal(cloned.status, 0, String(cloned.stderr));
  const markers = join(f.dir, "markers");
  mkdirSync(markers);
  // Checking out needs blobs the clone lacks: git would fetch them, running upload-pack locally.
  git(clone, "config", "remote.origin.uploadpack", markerScript(f.dir, "upload-pack", 'exec git-upload-pack "$@"'));
  git(clone, "config", "protocol.file.allow", "always");
  git(clone, "config", "credential.helper", markerScript(f.dir, "credential"));
  const repository = await f.store.createRepository({ path: clone, name: "clone", isGitRepository: true });

  await assert.rejects(
    f.orchestrator.createSession({ repositoryId: repository.id, title: "t", worktreeName: "lazy", isWorktree: true }),
    (e) => e instanceof SessionError && e.kind === "WorktreeCreation",
  );
  await assert.rejects(
    new Git().addWorktree(clone, join(f.dir, "direct"), "session/direct", "main"),
    (e) => e instanceof SessionError && e.kind === "WorktreeCreation",
  );
  assert.deepEqual(readdirSync(markers), []);
  assert.deepEqual(await f.store.listSessions(), []);
  // Plain git does run it: the vector is live.
  const control = spawnSync(
    "git",
    ["-C", clone, "worktree", "add", "-q", "--detach", join(f.dir, "control"), "main"],
    {
      encoding: "utf8",
    },
  );
  assert.deepEqual(readdirSync(markers), ["upload-pack"], control.stderr);
});

test("hooks and an fsmonitor that would sleep do not run, so they cannot hold a call up", async () => {
  using dir = tempDir("slo-hostile-");
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const hostile = makeHostile(dir.path, repo, "git-dir", "sleep 600");
  // Were they run, the calls would fail with the timeout error instead of hanging the suite.
  const g = new Git({ timeoutMs: 60_000 });
  const wt = join(dir.path, "wt");
  await g.addWorktree(repo, wt, "session/sleepy", "main");
  writeFileSync(join(wt, "x.txt"), "x\n");
  assert.equal((await g.run(wt, ["status", "--porcelain"])).stdout, "?? x.txt\n");
  await g.snapshotWorktree(wt, "sleepy");
  await g.removeWorktree(repo, wt, 1);
  await g.deleteBranch(repo, "session/sleepy");
  assert.deepEqual(hostile.ran(), []);
});

test("a command not known to be harmless is scanned for filters and hooks", () => {
  const cases: Array<[string[], CommandReach]> = [
    [["rev-parse", "HEAD"], "nothing"],
    [["worktree", "list", "--porcelain", "-z"], "nothing"],
    [["symbolic-ref", "--quiet", "--short", "HEAD"], "nothing"],
    [["symbolic-ref", "HEAD", "refs/heads/x"], "hooks"],
    [["branch", "-D", "--", "x"], "hooks"],
    [["update-ref", "refs/x", "HEAD"], "hooks"],
    [["worktree", "remove", "--force", "--", "/p"], "hooks"],
    [["worktree", "remove", "--", "--force"], "filters"],
    [["worktree", "add", "--", "/p", "x"], "filters"],
    [["write-tree"], "filters"],
    [["add", "--all"], "filters"],
    [["status"], "filters"],
    [["some-future-command"], "filters"],
  ];
  for (const [args, reach] of cases) assert.equal(commandReach(args), reach, args.join(" "));
});
