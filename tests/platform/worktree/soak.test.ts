// The done-criterion of the worktree lifecycle: in one real repository, 100 sessions opened and
// closed with failures injected at random steps and processes killed at random points, then
// reconcile: git's worktree list, the branches, the worktrees folder and the database agree, and no
// committed or uncommitted work is lost. The random choices come from a printed seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLOSE_STEPS, type LifecycleStep, OPEN_STEPS } from "../../../src/platform/mod.ts";
import {
  branches,
  commitFile,
  extraWorktrees,
  foldersIn,
  git,
  runWorkerUntil,
  worktreeFixture,
} from "../../fixtures/git_fixtures.ts";

const SESSIONS = 100;

function random(seed: number): () => number {
  // mulberry32: small, seedable, good enough to pick scenarios.
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Live {
  id: string;
  path: string;
  branch: string;
  commits: string[];
  dirty: string | null;
}

test(`${SESSIONS} sessions with random failures and kills, then reconcile: git, folders and database agree`, async () => {
  const seed = Number(process.env.SLO_SOAK_SEED ?? Date.now() % 1_000_000);
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const context = `seed ${seed} (rerun with SLO_SOAK_SEED=${seed})`;
  using f = await worktreeFixture();
  let failAt: LifecycleStep | null = null;
  const lifecycle = f.orchestratorWith({
    onStep: (step) => {
      if (step === failAt) throw new Error(`injected failure at ${step}`);
    },
  });
  const live = new Map<string, Live>();
  const gone = new Set<string>(); // branches that must not exist any more
  const keptCommits: string[] = []; // commits that must stay reachable from a branch
  const keptDirt = new Map<string, string>(); // file → content that must stay

  const closeExpect = (session: Live, force: boolean, deleteBranch: boolean) => {
    if (session.dirty !== null && !force) return; // kept whole
    live.delete(session.id);
    if (deleteBranch && session.commits.length === 0) gone.add(session.branch);
    if (!(deleteBranch && force)) keptCommits.push(...session.commits);
    if (session.dirty !== null) keptDirt.delete(session.dirty);
  };

  // Every pass must repair what it finds: "could not repair" means a journal entry left for later.
  const reconcile = async () => {
    const report = await lifecycle.reconcile();
    for (const finding of report.findings) {
      assert.doesNotMatch(finding.detail, /could not|incomplete/i, `${context}: ${finding.detail}`);
    }
    return report;
  };
  const used: string[] = [];
  const pendingPaths = () =>
    foldersIn(join(f.worktreesRoot, ".journal")).map((file) => JSON.parse(readFileSync(file, "utf8")).path);

  for (let i = 0; i < SESSIONS; i++) {
    // Names are sometimes reused: a name of a failed, killed (perhaps not yet reconciled) or closed
    // session. Opening one must work exactly when nothing holds its folder or branch any more.
    const reuse = used.length > 0 && next() < 0.2;
    const name = reuse ? pick(used) : `s${i}`;
    if (!reuse) used.push(name);
    const scenario = reuse ? 1 : next();
    if (reuse) {
      const path = join(f.folder, name);
      const free = ![...live.values()].some((s) => s.path === path) &&
        !branches(f.repositoryPath).includes(`session/${name}`) && !pendingPaths().includes(path);
      if (!free) {
        await assert.rejects(
          lifecycle.createSession({
            repositoryId: f.repository.id,
            title: name,
            worktreeName: name,
            isWorktree: true,
          }),
          (error) => (error as { kind?: string }).kind === "Conflict",
          context,
        );
        continue;
      }
      gone.delete(`session/${name}`);
    }
    if (scenario < 0.25) {
      failAt = pick(OPEN_STEPS);
      await assert.rejects(
        lifecycle.createSession({ repositoryId: f.repository.id, title: name, worktreeName: name, isWorktree: true }),
        /injected failure/,
        context,
      );
      failAt = null;
      gone.add(`session/${name}`);
      continue;
    }
    if (scenario < 0.4) {
      const step = pick(OPEN_STEPS);
      const run = await runWorkerUntil(
        ["open-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, step, name],
        `at ${step}`,
      );
      assert.ok(run.reached, `${context}: ${run.stderr}`);
      gone.add(`session/${name}`);
      if (next() < 0.5) await reconcile();
      continue;
    }
    const opened = await lifecycle.createSession({
      repositoryId: f.repository.id,
      title: name,
      worktreeName: name,
      isWorktree: true,
    });
    const session: Live = {
      id: opened.id,
      path: opened.worktreePath!,
      branch: opened.branchName!,
      commits: [],
      dirty: null,
    };
    live.set(session.id, session);
    if (next() < 0.4) session.commits.push(commitFile(session.path, `${name}.txt`, `${name}\n`));
    if (next() < 0.3) {
      session.dirty = join(session.path, `${name}-draft.txt`);
      writeFileSync(session.dirty, `draft of ${name}`);
      keptDirt.set(session.dirty, `draft of ${name}`);
    }
    // Close some of them: directly, with a failure at a step, or in a process killed at a step.
    const closing = next();
    if (closing < 0.3) continue;
    const force = next() < 0.3;
    const deleteBranch = next() < 0.6;
    if (closing < 0.6) {
      if (session.dirty !== null && !force) {
        await assert.rejects(lifecycle.deleteSession(session.id, { force, deleteBranch }), /kept/, context);
      } else {
        assert.ok(await lifecycle.deleteSession(session.id, { force, deleteBranch }), context);
      }
    } else if (closing < 0.8) {
      failAt = pick(CLOSE_STEPS);
      await lifecycle.deleteSession(session.id, { force, deleteBranch }).catch(() => {});
      failAt = null;
      await reconcile();
    } else {
      const step = pick(CLOSE_STEPS.filter((s) => deleteBranch || s !== "close:branch"));
      const options = [force ? "force" : "", deleteBranch ? "deleteBranch" : ""].join(",");
      const run = await runWorkerUntil(
        ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, step, options],
        `at ${step}`,
      );
      // A dirty worktree stops an unforced close before its first step after the journal.
      if (!run.reached) assert.match(run.stderr, /kept|Conflict/, context);
      await reconcile();
    }
    closeExpect(session, force, deleteBranch);
  }
  // The last pass may only finish what killed processes left; nothing is left unexplained.
  const report = await reconcile();
  for (const finding of report.findings) {
    assert.ok(finding.kind.startsWith("unfinished") && finding.action !== "none", `${context}: ${finding.detail}`);
  }

  // Git, the folder and the database agree on exactly the live sessions.
  const sessions = await f.store.listSessions();
  const expected = [...live.values()].map((s) => s.path).sort();
  assert.deepEqual(sessions.map((s) => s.worktreePath!).sort(), expected, context);
  assert.deepEqual(extraWorktrees(f.repositoryPath), expected, context);
  assert.deepEqual(foldersIn(f.folder), expected, context);
  assert.deepEqual(foldersIn(join(f.worktreesRoot, ".journal")), [], context);
  for (const session of live.values()) {
    assert.ok(await f.store.getSessionSecret(session.id), `${context}: secret of ${session.id}`);
    assert.equal(git(session.path, "rev-parse", "--abbrev-ref", "HEAD"), session.branch, context);
    if (session.dirty !== null) assert.ok(existsSync(session.dirty), context);
  }
  // No branch that should be gone is left; no work is lost.
  const branchList = new Set(branches(f.repositoryPath));
  for (const branch of gone) assert.ok(!branchList.has(branch), `${context}: ${branch} left behind`);
  for (const commit of keptCommits) {
    assert.notEqual(git(f.repositoryPath, "branch", "--contains", commit), "", `${context}: lost ${commit}`);
  }
  for (const [file, content] of keptDirt) assert.equal(readFileSync(file, "utf8"), content, context);
  assert.equal(git(f.repositoryPath, "status", "--porcelain"), "", context);
});
