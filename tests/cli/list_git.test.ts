// `slo list --git` against a real server and real git: each worktree session's git state in the
// DIRTY, AHEAD, BEHIND, LANDED and DISK columns, `-` for a session without a worktree, `?` for one
// the server cannot answer for (its repository is gone) while the others still show; and --json.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SessionGitStatus } from "../../src/lifecycle.ts";
import type { Session } from "../../src/types.ts";
import { commitFile, git, makeRepository } from "../fixtures/git_fixtures.ts";
import { cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";

const world = cliWorld("slo-cli-list-git-");
after(() => world.close());

type Listed = Session & { gitStatus: SessionGitStatus | null | { error: { kind: string | null; message: string } } };

test("cli: slo list --git adds DIRTY AHEAD BEHIND LANDED DISK per session; - without a worktree, ? where unknown", {
  timeout: 120_000,
}, async () => {
  await world.serve();
  const app = join(world.base, "app");
  makeRepository(app);
  const gone = join(world.base, "gone");
  makeRepository(gone);
  assert.equal((await world.cli(["repo", "add", app])).code, 0);
  assert.equal((await world.cli(["repo", "add", gone])).code, 0);
  const make = async (repo: string, title: string, ...flags: string[]) =>
    jsonOf<Session>(await world.cli(["new", repo, title, ...flags, "--json"]));

  // Uncommitted work; a commit of its own; work merged into main; no worktree; a repository that goes away.
  const working = await make("app", "Work in progress");
  writeFileSync(join(working.worktreePath!, "notes.txt"), "unsaved\n");
  const ahead = await make("app", "One commit ahead");
  commitFile(ahead.worktreePath!, "feature.txt");
  const shipped = await make("app", "Shipped");
  commitFile(shipped.worktreePath!, "shipped.txt");
  git(app, "merge", "-q", "--no-ff", "-m", "merge", shipped.branchName!);
  const plain = await make("app", "Plain notes", "--no-worktree");
  const lost = await make("gone", "In a repository that is gone");
  rmSync(gone, { recursive: true, force: true });

  // Into a pipe: whole columns, in order, before the path.
  const listed = await world.cli(["list", "--git"]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID +REPOSITORY +STATUS +TITLE +BRANCH +AGE +DIRTY +AHEAD +BEHIND +LANDED +DISK +PATH$/);
  const cells = (session: Session) => {
    const line = lines.find((l) => l.startsWith(session.id.slice(-8)));
    assert.ok(line !== undefined, `no row for ${session.title}:\n${listed.stdout}`);
    // The columns after AGE (a number and a unit), up to the path; looked for after the title, since
    // the id's hex tail can read as an age too ("…12d").
    const afterTitle = line.slice(line.indexOf(session.title) + session.title.length);
    const match = afterTitle.match(/\d+[smhd] {2}(\S+) +(\S+) +(\S+) +(\S+) +(\d+(?:\.\d)? \S+|[-?]) {2}(.+)$/);
    assert.ok(match !== null, line);
    return match.slice(1);
  };
  // main moved on by two commits (the shipped one and the merge): the others are two behind.
  assert.deepEqual(cells(working).slice(0, 4), ["yes", "0", "2", "no"]);
  assert.match(cells(working)[4], /^\d+(\.\d)? (B|KiB|MiB)$/);
  assert.deepEqual(cells(ahead).slice(0, 4), ["no", "1", "2", "no"]);
  // Its tip is on main now: nothing ahead, the merge commit behind.
  assert.deepEqual(cells(shipped).slice(0, 4), ["no", "0", "1", "merged"]);
  assert.equal(cells(working)[5], working.worktreePath);
  assert.deepEqual(cells(plain), ["-", "-", "-", "-", "-", "-"]);
  assert.deepEqual(cells(lost).slice(0, 5), ["?", "?", "?", "?", "?"]);
  // What kept the server from answering is said on stderr, for that session only.
  assert.match(listed.stderr, new RegExp(`^git state of ${lost.id.slice(-8)} unknown \\(\\?\\): .+$`, "m"));
  assert.equal(listed.stderr.trimEnd().split("\n").length, 1, listed.stderr);

  // --json: each session as before, with gitStatus (null without a worktree, { error } where unknown).
  const json = jsonOf<Listed[]>(await world.cli(["list", "--git", "--json"]));
  const byId = new Map(json.map((s) => [s.id, s]));
  assert.equal(json.length, 5);
  assert.deepEqual(
    { ...byId.get(working.id)!.gitStatus as SessionGitStatus, diskBytes: 0, lastChangedAt: null },
    { dirty: true, ahead: 0, behind: 2, landed: null, diskBytes: 0, lastChangedAt: null },
  );
  assert.ok((byId.get(working.id)!.gitStatus as SessionGitStatus).diskBytes > 0);
  assert.equal((byId.get(shipped.id)!.gitStatus as SessionGitStatus).landed, "merged");
  assert.equal(byId.get(plain.id)!.gitStatus, null);
  const failed = byId.get(lost.id)!.gitStatus as { error: { kind: string | null; message: string } };
  assert.equal(typeof failed.error.message, "string");
  assert.ok(failed.error.message.length > 0);
  assert.equal(byId.get(working.id)!.title, working.title);
  // Without --git, --json is as it was.
  const plainJson = jsonOf<Session[]>(await world.cli(["list", "--json"]));
  assert.ok(plainJson.every((s) => !("gitStatus" in s)));
  // With the filters: only those sessions' state is read.
  const onlyApp = jsonOf<Listed[]>(await world.cli(["list", "--git", "--json", "--repo", "app"]));
  assert.deepEqual(onlyApp.map((s) => s.id).sort(), [working.id, ahead.id, shipped.id, plain.id].sort());
});
