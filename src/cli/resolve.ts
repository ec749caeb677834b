/**
 * What people type for a session or a repository, turned into the record: a full id, a unique
 * short id (the end of an id, as the tables show it, or its start; found by paging through the list
 * endpoint), and for a repository also its name or its path. Nothing matching is "not found"; more
 * than one is an ambiguous short id, which is invalid input, and the error lists the candidates.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

import { realpathSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { Repository, Session } from "../types.ts";
import { answerError, type ApiClient } from "./client.ts";
import { CliError } from "./errors.ts";
import { MAX_PAGE_SIZE } from "../orchestrator.ts";

/** The largest page the server gives; the lists are read in pages of this size. */
export const PAGE_LIMIT: number = MAX_PAGE_SIZE;

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ID_PREFIX = /^[0-9a-f-]*[0-9a-f][0-9a-f-]*$/i;

// A short id names the ids it starts or ends: tables show ids' random ends (time-ordered ids
// share their start), and people also paste the start of an id they copied.
const idMatches = (id: string, short: string): boolean => id.startsWith(short) || id.endsWith(short);

/** Every session (every page), optionally of one repository and one status. */
export async function allSessions(
  client: ApiClient,
  filter: { repositoryId?: string; status?: Session["status"] } = {},
): Promise<Session[]> {
  const sessions: Session[] = [];
  let cursor: string | undefined;
  do {
    const response = await client.v1.sessions.$get({
      query: { ...filter, limit: String(PAGE_LIMIT), ...(cursor === undefined ? {} : { cursor }) },
    });
    if (response.status !== 200) throw await answerError(response);
    const page = await response.json();
    sessions.push(...page.sessions);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return sessions;
}

/** Every repository (every page). */
export async function allRepositories(client: ApiClient): Promise<Repository[]> {
  const repositories: Repository[] = [];
  let cursor: string | undefined;
  do {
    const response = await client.v1.repositories.$get({
      query: { limit: String(PAGE_LIMIT), ...(cursor === undefined ? {} : { cursor }) },
    });
    if (response.status !== 200) throw await answerError(response);
    const page = await response.json();
    repositories.push(...page.repositories);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return repositories;
}

function ambiguous(what: string, ref: string, lines: string[]): CliError {
  const shown = lines.slice(0, 10).map((line) => `  ${line}`).join("\n");
  const more = lines.length > 10 ? `\n  … and ${lines.length - 10} more` : "";
  return new CliError("invalidInput", `"${ref}" is ambiguous: it matches ${lines.length} ${what}:\n${shown}${more}`, {
    hint: "type more of the id",
  });
}

/** The full id of the one session whose id is `ref` or starts with it. */
export async function resolveSessionId(client: ApiClient, ref: string): Promise<string> {
  const wanted = ref.trim().toLowerCase();
  if (FULL_ID.test(wanted)) return wanted;
  if (!ID_PREFIX.test(wanted)) {
    throw new CliError("invalidInput", `"${ref}" is not a session id or the start or end of one (hex digits and -)`);
  }
  const matches = (await allSessions(client)).filter((session) => idMatches(session.id, wanted));
  if (matches.length === 0) {
    throw new CliError("notFound", `no session id starts or ends with ${wanted}`, { hint: 'see "slo list"' });
  }
  if (matches.length > 1) {
    throw ambiguous("sessions", ref, matches.map((session) => `${session.id}  ${session.title}`));
  }
  return matches[0].id;
}

/** `~` and `~/…` as the home folder, for a path that reached us quoted (the shell did not expand it). */
export function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}

// The forms a path may be stored in: as typed (absolute), and with symlinks resolved.
function pathForms(ref: string, cwd: string): string[] {
  const absolute = resolve(cwd, expandHome(ref));
  const forms = new Set([absolute.replace(/\/+$/, "") || "/"]);
  try {
    forms.add(realpathSync(absolute));
  } catch {
    // Not on disk (any more): only the spelling can match.
  }
  return [...forms];
}

const looksLikePath = (ref: string): boolean =>
  isAbsolute(ref) || ref.startsWith(".") || ref.startsWith("~") || ref.includes("/") || ref.includes("\\");

/**
 * The one repository `ref` names: its full id, a unique id prefix, its name, or its path (absolute,
 * or relative to `cwd`; symlinks resolved as the server stores it).
 */
export async function resolveRepository(client: ApiClient, ref: string, cwd: string): Promise<Repository> {
  const repositories = await allRepositories(client);
  const wanted = ref.trim();
  if (wanted === "") throw new CliError("invalidInput", "a repository is needed: an id, a name or a path");
  const lower = wanted.toLowerCase();
  const exact = repositories.find((repository) => repository.id === lower);
  if (exact !== undefined) return exact;

  const byPath = (): Repository[] => {
    const forms = pathForms(wanted, cwd);
    return repositories.filter((repository) => forms.includes(repository.path));
  };
  let matches: Repository[];
  if (looksLikePath(wanted)) {
    matches = byPath();
  } else {
    matches = repositories.filter((repository) =>
      repository.name === wanted || (ID_PREFIX.test(lower) && idMatches(repository.id, lower))
    );
    // A bare folder name in the current directory: `slo new app …` run beside `app/`.
    if (matches.length === 0) matches = byPath();
  }
  if (matches.length === 0) {
    throw new CliError("notFound", `no repository matches "${ref}" (by id, name or path)`, {
      hint: 'see "slo repo list"',
    });
  }
  if (matches.length > 1) {
    throw ambiguous(
      "repositories",
      ref,
      matches.map((repository) => `${repository.id}  ${repository.name}  ${repository.path}`),
    );
  }
  return matches[0];
}
