/**
 * Internal to `WorktreeLifecycle` (not exported from `./platform`): a pool of ready worktrees per
 * repository, kept at its default branch's commit so that a create can claim one instead of
 * checking out every file. Each entry is journaled as a lease (`<worktreesRoot>/.pool/<repository
 * id>/<lease id>.json`, written durably before `git worktree add`, removed after the worktree is
 * gone or claimed), so a crash never leaves a registration or folder that nothing proves ours:
 * reconcile removes the entries whose process is gone.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errorMessage } from "../errors.ts";
import type { ReconcileFinding } from "../lifecycle.ts";
import type { Repository } from "../types.ts";
import { nowIso } from "../_clock.ts";
import { MAX_POOL_SIZE } from "../repository_settings.ts";
import type { Git, RepositoryInfo } from "./git.ts";
import { writeDurableFile } from "./private_file.ts";
import { processExists } from "./_process.ts";

/** One pool entry's lease, as journaled. */
export interface PoolLease {
  /** The entry's id (a UUID): its folder's and its lease file's name. */
  leaseId: string;
  /** The repository it belongs to. */
  repositoryId: string;
  /** The repository's checkout, where git runs. */
  repositoryPath: string;
  /** The entry's worktree folder. */
  path: string;
  /** The commit it has checked out (detached). */
  commit: string;
  /** `filling` until its checkout is complete, then `ready`. */
  state: "filling" | "ready";
  /** The process that made it. */
  pid: number;
  /** When it was started (ISO-8601 UTC). */
  startedAt: string;
}

/** What a pool answers of one repository. */
export interface PoolStatus {
  /** How many ready worktrees the operator asked for. */
  size: number;
  /** How many are ready now. */
  ready: number;
}

/** The points of a fill where `onStep` is called (a test hook, as the lifecycle's steps are). */
export type PoolStep = "pool:lease" | "pool:added" | "pool:ready";

/** What the pool needs from the lifecycle. */
export interface PoolContext {
  git: Git;
  /** `<worktreesRoot>/.pool`. */
  dir: string;
  /** How many ready worktrees a repository keeps. */
  size(repository: Repository): number;
  repositoryInfo(path: string): Promise<RepositoryInfo>;
  lock<T>(info: RepositoryInfo, work: () => Promise<T>): Promise<T>;
  /** The ref a create of `repository` starts from by default. */
  baseOf(repository: Repository, info: RepositoryInfo): Promise<string>;
  onStep?: (step: PoolStep, leaseId: string) => Promise<void> | void;
  logError(message: string, cause: unknown): void;
}

interface RepositoryPool {
  repository: Repository;
  ready: PoolLease[];
  /** Leases of this process being made or removed. */
  busy: Set<string>;
  fill: Promise<void> | null;
  again: boolean;
}

/** A pool of ready worktrees per repository (see the module's documentation). */
export class WorktreePool {
  readonly #context: PoolContext;
  readonly #pools = new Map<string, RepositoryPool>();
  #stopping = false;

  /** A pool over the lifecycle's parts; nothing is made until `warm` or `status` is called. */
  constructor(context: PoolContext) {
    this.#context = context;
  }

  #folder(repositoryId: string): string {
    return join(this.#context.dir, repositoryId);
  }

  #pool(repository: Repository): RepositoryPool {
    let pool = this.#pools.get(repository.id);
    if (pool === undefined) {
      pool = { repository, ready: [], busy: new Set(), fill: null, again: false };
      this.#pools.set(repository.id, pool);
    }
    pool.repository = repository;
    return pool;
  }

  #size(repository: Repository): number {
    if (this.#stopping) return 0;
    const size = this.#context.size(repository);
    return Number.isInteger(size) && size > 0 ? Math.min(size, MAX_POOL_SIZE) : 0;
  }

  /** Whether `repository` keeps a pool at all. */
  enabled(repository: Repository): boolean {
    return this.#size(repository) > 0;
  }

  /** The pool's size and how many entries are ready; starts a fill in the background when short. */
  status(repository: Repository): PoolStatus {
    const size = this.#size(repository);
    if (size === 0) return { size: 0, ready: 0 };
    const pool = this.#pool(repository);
    this.warm(repository);
    return { size, ready: pool.ready.length };
  }

  /**
   * Starts filling `repository`'s pool in the background (never awaited by a create); a fill
   * running already goes round once more, so that a claim or a moved base is seen.
   */
  warm(repository: Repository): void {
    if (this.#size(repository) === 0) return;
    const pool = this.#pool(repository);
    if (pool.fill !== null) {
      pool.again = true;
      return;
    }
    pool.fill = (async () => {
      do {
        pool.again = false;
        try {
          await this.#fillOnce(pool);
        } catch (error) {
          this.#context.logError(`filling the worktree pool of repository ${pool.repository.id} failed`, error);
          break;
        }
      } while (pool.again && !this.#stopping);
    })().finally(() => {
      pool.fill = null;
    });
  }

  /** Waits for every fill under way (a test's way to see the pool full). */
  async settled(): Promise<void> {
    for (;;) {
      const fills = [...this.#pools.values()].map((pool) => pool.fill).filter((fill) => fill !== null);
      if (fills.length === 0) return;
      await Promise.allSettled(fills);
    }
  }

  async #fillOnce(pool: RepositoryPool): Promise<void> {
    const { git } = this.#context;
    for (;;) {
      const size = this.#size(pool.repository);
      const info = await this.#context.repositoryInfo(pool.repository.path);
      const base = await this.#context.baseOf(pool.repository, info);
      const commit = await git.resolveCommit(info.topLevel, base);
      // Entries the base moved away from, or beyond the size, are replaced or dropped.
      const stale = pool.ready.filter((lease) => lease.commit !== commit);
      const extra = pool.ready.filter((lease) => lease.commit === commit).slice(size);
      for (const lease of [...stale, ...extra]) {
        pool.ready = pool.ready.filter((other) => other !== lease);
        await this.#context.lock(info, () => this.#remove(lease));
      }
      if (this.#stopping || commit === null || pool.ready.length + pool.busy.size >= size) return;
      await this.#makeOne(pool, info, commit);
    }
  }

  async #makeOne(pool: RepositoryPool, info: RepositoryInfo, commit: string): Promise<void> {
    const { git } = this.#context;
    const leaseId = crypto.randomUUID();
    const folder = this.#folder(pool.repository.id);
    const lease: PoolLease = {
      leaseId,
      repositoryId: pool.repository.id,
      repositoryPath: info.topLevel,
      path: join(folder, leaseId),
      commit,
      state: "filling",
      pid: process.pid,
      startedAt: nowIso(),
    };
    pool.busy.add(leaseId);
    try {
      await mkdir(folder, { recursive: true });
      await writeDurableFile(join(folder, `${leaseId}.json`), JSON.stringify(lease));
      await this.#context.onStep?.("pool:lease", leaseId);
      // Registered under the lock (git's worktree records change); checked out outside it, as
      // nothing but this entry's own index and files change then.
      await this.#context.lock(info, () => git.addDetachedWorktree(info.topLevel, lease.path, commit));
      await this.#context.onStep?.("pool:added", leaseId);
      if (this.#stopping) throw new Error("the pool is stopping");
      await git.checkoutWorktree(lease.path, undefined, { parallel: true });
      const ready: PoolLease = { ...lease, state: "ready" };
      await writeDurableFile(join(folder, `${leaseId}.json`), JSON.stringify(ready));
      await this.#context.onStep?.("pool:ready", leaseId);
      pool.ready.push(ready);
    } catch (error) {
      await this.#context.lock(info, () => this.#remove(lease)).catch((cause) =>
        this.#context.logError(`removing the half-made pool worktree ${lease.path} failed`, cause)
      );
      throw error;
    } finally {
      pool.busy.delete(leaseId);
    }
  }

  // Removes an entry's worktree, folder and lease, the lease last (it is what proves the rest ours).
  // Under the repository's lock.
  async #remove(lease: PoolLease): Promise<void> {
    const { git } = this.#context;
    const registered = (await git.listWorktrees(lease.repositoryPath))
      .some((entry) => resolve(entry.path) === resolve(lease.path));
    if (registered) await git.removeWorktree(lease.repositoryPath, lease.path, 2);
    await rm(lease.path, { recursive: true, force: true });
    await rm(join(this.#folder(lease.repositoryId), `${lease.leaseId}.json`), { force: true });
  }

  /**
   * Under the repository's lock (the caller holds it): takes a ready entry at `commit`, checked
   * clean and still at `commit`, out of the pool, or `null` (a doubtful entry is removed). The
   * caller moves it, then calls `release` to drop its lease; a refill starts either way.
   */
  async claim(repository: Repository, commit: string): Promise<PoolLease | null> {
    if (!this.enabled(repository)) return null;
    const pool = this.#pool(repository);
    try {
      while (pool.ready.length > 0) {
        const lease = pool.ready.shift()!;
        const fits = lease.commit === commit && existsSync(lease.path) &&
          await this.#context.git.resolveCommit(lease.path, "HEAD").catch(() => null) === commit &&
          (await this.#context.git.worktreeChanges(lease.path).catch(() => ({ clean: false }))).clean;
        if (fits) return lease;
        await this.#remove(lease).catch((error) =>
          this.#context.logError(`removing the stale pool worktree ${lease.path} failed`, error)
        );
      }
      return null;
    } finally {
      this.warm(repository);
    }
  }

  /** Removes a claimed entry that could not be used (under the repository's lock). */
  async discard(lease: PoolLease): Promise<void> {
    await this.#remove(lease).catch((error) =>
      this.#context.logError(`removing the pool worktree ${lease.path} failed`, error)
    );
  }

  /** Drops the lease of a claimed entry, whose worktree is now a session's. */
  async release(lease: PoolLease): Promise<void> {
    await rm(join(this.#folder(lease.repositoryId), `${lease.leaseId}.json`), { force: true });
  }

  /**
   * Stops filling: waits for the fills under way (each git call has a timeout, and no new one
   * starts), then removes every entry this process made, so no process, registration or folder
   * stays behind.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.settled();
    for (const pool of this.#pools.values()) {
      const leases = pool.ready;
      pool.ready = [];
      if (leases.length === 0) continue;
      try {
        const info = await this.#context.repositoryInfo(pool.repository.path);
        await this.#context.lock(info, async () => {
          for (const lease of leases) await this.#remove(lease);
        });
      } catch (error) {
        this.#context.logError(`removing the worktree pool of repository ${pool.repository.id} failed`, error);
      }
    }
  }

  /**
   * Reconcile's part, under the repository's lock: removes the entries whose process is gone
   * (half-made or orphaned: their lease proves them ours), and the registrations under the
   * repository's pool folder that no lease names; each is reported. With `dryRun`, only reports.
   */
  async reconcile(repository: Repository, info: RepositoryInfo, dryRun: boolean): Promise<ReconcileFinding[]> {
    const findings: ReconcileFinding[] = [];
    const folder = this.#folder(repository.id);
    let names: string[] = [];
    try {
      names = readdirSync(folder);
    } catch {
      // No pool folder: its registrations, if any, are still checked below.
    }
    const mine = this.#pools.get(repository.id);
    const live = new Set([...(mine?.ready ?? []).map((lease) => lease.leaseId), ...(mine?.busy ?? [])]);
    const leased = new Set<string>();
    for (const name of names.sort()) {
      // A lease's write goes through `<lease>.json.<pid>.<random>.tmp`: one left by a process that is
      // gone (killed mid-write) names nothing, and goes.
      const temp = /^[0-9a-f-]{36}\.json\.(\d+)\.[0-9a-f-]+\.tmp$/.exec(name);
      if (temp !== null) {
        const pid = Number(temp[1]);
        if (!dryRun && pid !== process.pid && !processExists(pid)) rmSync(join(folder, name), { force: true });
        continue;
      }
      const match = /^([0-9a-f-]{36})\.json$/.exec(name);
      if (match === null) continue;
      let lease: PoolLease;
      try {
        lease = JSON.parse(readFileSync(join(folder, name), "utf8")) as PoolLease;
      } catch {
        continue; // A torn lease cannot be: it is written durably. Left for people to see.
      }
      leased.add(resolve(lease.path));
      const alive = lease.pid === process.pid ? live.has(lease.leaseId) : processExists(lease.pid);
      if (alive) continue;
      const finding: ReconcileFinding = {
        kind: "orphan-pool-worktree",
        sessionId: null,
        path: lease.path,
        branch: null,
        action: "none",
        detail: `the pool worktree ${lease.path} (${lease.state}) of process ${lease.pid}, which is gone`,
      };
      if (!dryRun) {
        try {
          await this.#remove(lease);
          finding.action = "removed";
          finding.detail += ": removed";
        } catch (error) {
          finding.detail += `; it could not be removed: ${errorMessage(error)}`;
        }
      }
      findings.push(finding);
    }
    for (const entry of await this.#context.git.listWorktrees(info.topLevel)) {
      const path = resolve(entry.path);
      if (!path.startsWith(folder + "/") || leased.has(path)) continue;
      const finding: ReconcileFinding = {
        kind: "orphan-pool-worktree",
        sessionId: null,
        path,
        branch: entry.branch,
        action: "none",
        detail: `git lists the pool worktree ${path}, which no lease names`,
      };
      if (!dryRun) {
        try {
          await this.#context.git.removeWorktree(info.topLevel, path, 2);
          await rm(path, { recursive: true, force: true });
          finding.action = "removed";
          finding.detail += ": removed";
        } catch (error) {
          finding.detail += `; it could not be removed: ${errorMessage(error)}`;
        }
      }
      findings.push(finding);
    }
    return findings;
  }
}
