/**
 * A real kill in the middle of `git worktree remove`: a child process runs a phase that removes a
 * worktree full of files, and it and its git are SIGKILLed once git has deleted part of the folder.
 * @module
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runtimeArgv } from "./helpers.ts";

const worker = new URL("./fixtures/worktree_worker.ts", import.meta.url).pathname;
const FOLDERS = 400;
const FILES_PER_FOLDER = 20;

/** Fills `worktree` with FOLDERS × FILES_PER_FOLDER small files; their relative paths. */
export function manyFiles(worktree: string): string[] {
  const paths: string[] = [];
  for (let d = 0; d < FOLDERS; d++) {
    mkdirSync(join(worktree, `d${d}`));
    for (let f = 0; f < FILES_PER_FOLDER; f++) {
      const path = `d${d}/f${f}.txt`;
      writeFileSync(join(worktree, path), `${d}/${f}\n`);
      paths.push(path);
    }
  }
  return paths;
}

// The git process removing `worktree`, among the children of `parent` (any of its threads may
// have started it), found by its command line.
function removingGit(parent: number, worktree: string): number | null {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${parent}/task`);
  } catch {
    return null;
  }
  for (const task of tasks) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${parent}/task/${task}/children`, "utf8").split(" ").filter(Boolean);
    } catch {
      continue;
    }
    for (const pid of children) {
      let args: string[];
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      } catch {
        continue;
      }
      const at = args.indexOf("worktree");
      if (at !== -1 && args[at + 1] === "remove" && args.includes(worktree)) return Number(pid);
    }
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs the worker with `args` (a mode that removes `worktree`) in a child process and SIGKILLs it,
 * and the git process removing the worktree, once that git has deleted part of the folder: as a
 * crash of the machine (or of the whole service, git included) in the middle of the removal would.
 */
export async function killDuringRemoval(args: string[], worktree: string): Promise<void> {
  const entries = readdirSync(worktree).length;
  const [command, ...rest] = runtimeArgv(worker, args);
  const child = spawn(command, rest, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  let exited = false;
  const closed = new Promise((resolve) => child.on("close", () => resolve(exited = true)));
  let gitPid: number | null = null;
  // Bounded: the child snapshots thousands of files first (git add, write-tree) before it removes them.
  for (let round = 0; round < 300_000 && gitPid === null && !exited; round++) {
    gitPid = removingGit(child.pid!, worktree);
    if (gitPid === null) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.notEqual(gitPid, null, `no git worktree remove was seen: ${stderr}`);
  // Without yielding: as soon as the first of the FOLDERS top-level folders is gone.
  for (let round = 0; round < 10_000_000 && readdirSync(worktree).length >= entries; round++);
  process.kill(gitPid!, "SIGKILL");
  child.kill("SIGKILL");
  await closed;
  for (let round = 0; round < 100_000 && alive(gitPid!); round++) await tick();
  assert.equal(alive(gitPid!), false);
  const left = readdirSync(worktree).length;
  assert.ok(left > 0 && left < entries, `the removal was not cut short: ${left} of ${entries} entries left`);
}
