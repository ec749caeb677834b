/**
 * The dashboard's script, served as a module from the server itself (the page's CSP allows no other
 * script and nothing inline). It signs in with a one-time code from the link `slo ui` opens, keeps
 * the credential in `sessionStorage` (this tab only; never a cookie, so no other site's request can
 * act with it) and sends it as `Authorization: Bearer …`. It lists repositories and their sessions,
 * follows `GET /v1/events` (read with `fetch`, since an `EventSource` cannot send the header) and
 * reconnects with `Last-Event-ID` after a dropped connection, fetching the lists again so they are
 * right whatever the stream replayed. Everything from the server is put in the page as text
 * (`textContent`, `append` of strings), never as HTML.
 *
 * A worktree session's git state (dirty, landed, disk use) comes from `GET …/status`, which runs git
 * and walks the worktree folder on the server: it is read lazily, only for rows that come into view
 * (an `IntersectionObserver`), at most `STATUS_CONCURRENCY` at a time, and kept until an event about
 * that session (or a reconnection) makes it stale; opening a session's detail reads it afresh. So a
 * page of a thousand sessions costs a handful of git calls, not a thousand, and a re-render costs
 * none. Archive, restore and fork (its dialog in `./fork.js`) are row actions; "Clean up" shows
 * gc's dry-run findings, with an optional idle limit, and runs it only when confirmed. A session's
 * detail lists its recent events from the stream (`./recent_events.js`), its ports and setup (`./setup.js`:
 * live from `session.updated` events, with "Run setup again" when it failed or was cut short) and its
 * snapshots (`./snapshots.js`, read when the detail opens and after an event that can make one); a
 * repository's "Snapshots…" dialog lists all of its snapshots, deleted sessions' too. Each snapshot
 * can be restored into a new session. A create under way, this page's or one made elsewhere, shows
 * as a line under its repository from its `session.progress` events (`./progress.js`) until its row comes.
 *
 * To add an action or a part of a session's detail (ports, setup log, snapshots), add an entry to
 * `ROW_ACTIONS` or `DETAIL_SECTIONS`; the DOM helpers are in `./dom.js`.
 *
 * @module
 */

/** @typedef {{ id: string; name: string; path: string; isGitRepository: boolean; createdAt: string }} Repository */
/**
 * @typedef {{
 *   id: string; repositoryId: string; title: string; status: string; agentName: string | null;
 *   issueId: string | null; issueTitle: string | null; issueUrl: string | null; isWorktree: boolean;
 *   worktreePath: string | null; worktreeName: string | null; branchName: string | null;
 *   baseBranch: string | null; createdWorktree: boolean; createdBranch: boolean;
 *   createdAt: string; updatedAt: string; lastAccessedAt: string | null; ports?: number[];
 *   setup?: import("./setup.js").SessionSetup | null;
 * }} Session
 */
/** @typedef {import("./recent_events.js").RecentEvent} RecentEvent */
/**
 * @typedef {{
 *   dirty: boolean | null; ahead: number | null; behind: number | null;
 *   landed: "merged" | "squash-merged" | "cherry-picked" | null; diskBytes: number; lastChangedAt: string | null;
 * }} GitStatus
 */
/**
 * A row's git state: being read (each read its own object, so a read made stale meanwhile is told
 * apart from the one that replaced it), read, or refused with the server's message.
 * @typedef {{ state: "loading" } | { state: "done"; status: GitStatus } | { state: "failed"; message: string }} GitState
 */
/**
 * @typedef {{
 *   sessionId: string; title: string; action: "delete" | "archive" | "keep"; reason: string;
 *   landed: string | null; dirty: boolean | null; diskBytes: number; deleteBranch: boolean; done: boolean;
 *   error: string | null;
 * }} GcFinding
 */
/** @typedef {{ dryRun: boolean; findings: GcFinding[]; reclaimedBytes: number }} GcReport */

import { byId, formatBytes, h, messageOf } from "./dom.js";
import { forkDialog } from "./fork.js";
import { creates } from "./progress.js";
import { recentEvents, recordEvent } from "./recent_events.js";
import { portsPart, setupPart } from "./setup.js";
import { snapshots as snapshotParts } from "./snapshots.js";

const TOKEN_KEY = "session-lifecycle-orchestrator.dashboard.token";
// Relative to the page (`<prefix>/ui/`), so the dashboard works under a mount prefix too.
const API = new URL("../v1/", location.href);
const SIGN_IN = new URL("sign-in", location.href);
const PAGE_SIZE = 1000;
// Each status read runs git and walks a folder on the server: a few at a time is plenty for a screen of rows.
const STATUS_CONCURRENCY = 2;

const state = {
  /** @type {string | null} */
  token: null,
  /** @type {Map<string, Repository>} */
  repositories: new Map(),
  /** @type {Map<string, Session>} */
  sessions: new Map(),
  /** @type {string | null} the session whose detail shows */
  selected: null,
  /** @type {Map<string, RecentEvent[]>} each session's recent events since the page opened, newest first */
  seen: new Map(),
  /** @type {Map<string, GitState>} the git state of worktree sessions read so far; absent: not read, or stale */
  git: new Map(),
  /** @type {Set<string>} sessions with an archive or restore under way */
  busy: new Set(),
  /** @type {Set<string>} sessions whose setup is being asked to run again */
  settingUp: new Set(),
  /** @type {string | null} the last event id the stream gave */
  lastEventId: null,
  /** @type {AbortController | null} */
  stream: null,
  loaded: false,
};

/** A short age: `12s`, `4m`, `3h`, `2d`. @param {string} iso */
function age(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** @param {string} text @param {boolean} [isError] */
function announce(text, isError = false) {
  const notice = byId("notice");
  notice.className = isError ? "notice error" : "notice";
  notice.textContent = text;
}

/** @param {"connecting" | "live" | "down" | "signed-out"} status @param {string} [detail] */
function setConnection(status, detail) {
  const element = byId("connection");
  element.className = `connection ${status}`;
  element.textContent = status === "live"
    ? "Live: changes show as they happen"
    : status === "connecting"
    ? "Connecting…"
    : status === "down"
    ? `Reconnecting${detail ? ` (${detail})` : ""}…`
    : "Signed out";
}

// ---------------------------------------------------------------------------------------------
// The API

/** A refusal of the credential: the page signs out. */
class SignedOut extends Error {}

/**
 * Calls the API with the credential; an error answer throws its message.
 * @param {string} path relative to `/v1/`
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${state.token}`);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  const response = await fetch(new URL(path, API), { ...init, headers, cache: "no-store" });
  if (response.status === 401) throw new SignedOut("the server refused this page's credential");
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `the server answered ${response.status}`);
    Object.assign(error, { status: response.status, forceable: body?.error?.forceable === true });
    throw error;
  }
  return body;
}

/**
 * Every page of a list.
 * @param {string} path
 * @param {"repositories" | "sessions"} key
 */
async function everyPage(path, key) {
  const all = [];
  /** @type {string | null} */
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor !== null) query.set("cursor", cursor);
    const page = await api(`${path}?${query}`);
    all.push(...page[key]);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

/** Fetches both lists again and shows them. */
async function reload() {
  const [repositories, sessions] = await Promise.all([
    everyPage("repositories", "repositories"),
    everyPage("sessions", "sessions"),
  ]);
  state.repositories = new Map(repositories.map((repository) => [repository.id, repository]));
  state.sessions = new Map(sessions.map((session) => [session.id, session]));
  // Whatever happened while the page was away may have changed any worktree: read them again as they show.
  state.git.clear();
  snapshotsOf?.stale();
  state.loaded = true;
  underWay.settle();
  render();
}

// ---------------------------------------------------------------------------------------------
// The event stream

/**
 * The events of a server-sent event stream as they arrive.
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{ event: string; data: string; id: string | null }>}
 */
async function* serverSentEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        /** @type {string | null} */
        let id = null;
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon === -1 ? line : line.slice(0, colon);
          const text = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = text;
          else if (field === "data") data.push(text);
          else if (field === "id") id = text;
        }
        if (data.length > 0 || event !== "message") yield { event, data: data.join("\n"), id };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The creates under way, each a line under its repository (`./progress.js`). */
const underWay = creates({
  knows: (repositoryId) => state.repositories.has(repositoryId),
  made: (sessionId) => state.sessions.has(sessionId),
});

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows the event stream until signed out: on each (re)connection the lists are fetched again
 * once the stream is subscribed (its `ready` event), so no change is missed, whether or not the
 * server replayed what happened while the page was away. A dropped connection is retried, sooner
 * at first, with the last event id seen.
 * @param {AbortSignal} signal
 */
async function follow(signal) {
  let failures = 0;
  while (!signal.aborted) {
    let reason = "the connection dropped";
    try {
      const headers = new Headers({ authorization: `Bearer ${state.token}`, accept: "text/event-stream" });
      if (state.lastEventId !== null) headers.set("last-event-id", state.lastEventId);
      const response = await fetch(new URL("events", API), { headers, signal, cache: "no-store" });
      if (response.status === 401) throw new SignedOut("the server refused this page's credential");
      // An id this server does not know (its log was reset): start afresh; the lists are fetched again anyway.
      if (response.status === 400) state.lastEventId = null;
      if (!response.ok || response.body === null) throw new Error(`the server answered ${response.status}`);
      for await (const message of serverSentEvents(response.body)) {
        if (message.id !== null && message.id !== "") state.lastEventId = message.id;
        if (message.event === "ready" || message.event === "gap") {
          // Events that arrive meanwhile wait in the stream, and are applied after the lists.
          await reload();
          failures = 0;
          setConnection("live");
          continue;
        }
        apply(message.event, message.data, message.id);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof SignedOut) return signOut(error.message);
      reason = error instanceof Error && error.message ? error.message : reason;
    }
    if (signal.aborted) return;
    setConnection("down", reason);
    failures++;
    await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
  }
}

/**
 * One lifecycle event, applied to what the page shows. Each carries the whole record, so applying
 * events in order leaves each row as its last event says.
 * @param {string} type
 * @param {string} data
 * @param {string | null} id its id in the stream
 */
function apply(type, data, id) {
  /** @type {any} */
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  // A create's progress is news of a phase, not a change of any record: only its line under the repository
  // redraws, the rows stay as they are.
  if (type === "session.progress") return void underWay.progress(event);
  if (type === "repository.created") state.repositories.set(event.repository.id, event.repository);
  else if (type === "repository.deleted") state.repositories.delete(event.repository.id);
  else if (
    type === "session.created" || type === "session.updated" || type === "session.archived" ||
    type === "session.restored"
  ) {
    state.sessions.set(event.session.id, event.session);
    if (type === "session.created") underWay.created(event.session.id);
  } else if (type === "session.deleted") state.sessions.delete(event.session.id);
  const sessionId = event.session?.id ?? event.sessionId;
  // A change to the session (archived, restored, updated, gone) makes its git state stale.
  if (typeof sessionId === "string" && type.startsWith("session.")) state.git.delete(sessionId);
  // Archives and deletes save work as snapshots, and so does a fork of its source (whose event is the fork's
  // session.created); a setup's updates make none, and are many.
  if (type === "session.created") snapshotsOf?.stale();
  else if (typeof sessionId === "string" && type !== "session.updated") snapshotsOf?.stale(sessionId);
  if (typeof sessionId === "string") recordEvent(state.seen, sessionId, { id: id || null, type, event });
  if (state.loaded) render();
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * What each session's row offers, in order. Archive and Restore share a `slot`: the one replaces
 * the other when it is done, and the keyboard focus stays on it. Fork opens its own dialog
 * (`./fork.js`).
 * @type {{
 *   label: string; className?: string; slot?: string; show: (session: Session) => boolean;
 *   run: (session: Session) => void;
 * }[]}
 */
const ROW_ACTIONS = [
  { label: "Details", show: () => true, run: (session) => showDetail(session.id) },
  {
    label: "Archive",
    slot: "life",
    // Only a worktree this server made can be archived (its folder is removed, its work saved first).
    show: (session) => session.status === "active" && session.isWorktree && session.createdWorktree,
    run: (session) => changeLife(session, "archive"),
  },
  {
    label: "Restore",
    slot: "life",
    show: (session) => session.status === "archived",
    run: (session) => changeLife(session, "restore"),
  },
  {
    label: "Fork",
    // A worktree this server made (an archived one forks from what its archive saved).
    show: (session) => session.isWorktree && session.createdWorktree,
    run: (session) => fork?.open(session),
  },
  { label: "Delete", className: "danger", show: () => true, run: (session) => confirmDelete(session) },
];

/** The Fork dialog, wired once the page starts. @type {{ open: (session: Session) => void } | null} */
let fork = null;

/**
 * A fork made from the page: shown at once (its `session.created` event may come before or after).
 * @param {Session} created
 * @param {{ title: string }} source
 */
function forked(created, source) {
  const shown = state.sessions.get(created.id);
  if (shown === undefined || shown.updatedAt <= created.updatedAt) state.sessions.set(created.id, created);
  render();
  announce(`Forked “${source.title}” as “${created.title}”, at ${created.worktreePath} on ${created.branchName}.`);
}

/**
 * The snapshot parts (a session's list, the repository's dialog, the restore dialog), wired once the page starts.
 * @type {ReturnType<typeof snapshotParts> | null}
 */
let snapshotsOf = null;

/**
 * A session restored from a snapshot: shown at once (its `session.created` event may come before or after).
 * @param {Session} created
 * @param {import("./snapshots.js").Snapshot} snapshot
 */
function restoredSnapshot(created, snapshot) {
  const shown = state.sessions.get(created.id);
  if (shown === undefined || shown.updatedAt <= created.updatedAt) state.sessions.set(created.id, created);
  render();
  announce(
    `Restored ${snapshot.ref} as “${created.title}”, at ${created.worktreePath} on ${created.branchName}.`,
  );
}

/**
 * Asks the server to run a session's setup again; its state goes to running, then on, from its events.
 * @param {Session} session
 */
async function runSetupAgain(session) {
  if (state.settingUp.has(session.id)) return;
  state.settingUp.add(session.id);
  render();
  try {
    const updated = await api(`sessions/${encodeURIComponent(session.id)}/setup`, { method: "POST" });
    const shown = state.sessions.get(updated.id);
    if (shown === undefined || shown.updatedAt <= updated.updatedAt) state.sessions.set(updated.id, updated);
    announce(`Running the setup of “${updated.title}” again.`);
  } catch (error) {
    if (error instanceof SignedOut) return signOut(error.message);
    announce(`Could not run the setup of “${session.title}” again: ${messageOf(error)}`, true);
  } finally {
    state.settingUp.delete(session.id);
    if (state.loaded) render();
  }
  // Its button is gone while it runs: the focus goes to the state it shows.
  const badge = document.querySelector(`[data-focus="${CSS.escape(`setup-state:${session.id}`)}"]`);
  if (badge instanceof HTMLElement && document.activeElement === document.body) badge.focus();
}

/**
 * The parts of a session's detail, in order.
 * @type {{ title: string; render: (session: Session) => Node }[]}
 */
const DETAIL_SECTIONS = [
  { title: "Session", render: sessionFields },
  { title: "Git", render: gitFields },
  { title: "Ports", render: portsPart },
  {
    title: "Setup",
    render: (session) =>
      setupPart(session, { busy: state.settingUp.has(session.id), runAgain: () => runSetupAgain(session) }),
  },
  {
    title: "Snapshots",
    render: (session) =>
      !session.isWorktree
        ? h("p", { class: "empty" }, "None: it has no worktree.")
        : snapshotsOf === null
        ? h("p", { class: "pending" }, "Reading…")
        : snapshotsOf.part(session, () => {
          if (state.selected === session.id) renderDetail();
        }),
  },
  { title: "Recent events", render: seenEvents },
];

/** @param {[string, string | null][]} rows */
function fields(rows) {
  return h("dl", {}, rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value ?? "—")]));
}

/** @param {Session} session */
function sessionFields(session) {
  const repository = state.repositories.get(session.repositoryId);
  return fields([
    ["id", session.id],
    ["title", session.title],
    ["status", session.status],
    ["repository", repository ? `${repository.name} (${repository.path})` : session.repositoryId],
    ["agent", session.agentName],
    ["issue", [session.issueId, session.issueTitle, session.issueUrl].filter((x) => x !== null).join("  ") || null],
    ["created", session.createdAt],
    ["updated", session.updatedAt],
    ["last accessed", session.lastAccessedAt],
  ]);
}

/** @param {Session} session */
function gitFields(session) {
  const yesNo = (/** @type {boolean} */ value) => (value ? "yes" : "no");
  /** @type {[string, string | null][]} */
  const rows = [
    ["worktree", session.isWorktree ? session.worktreePath : "none"],
    ["worktree name", session.worktreeName],
    ["branch", session.branchName],
    ["base branch", session.baseBranch],
    ["made its worktree", yesNo(session.createdWorktree)],
    ["made its branch", yesNo(session.createdBranch)],
  ];
  if (session.isWorktree) {
    const git = state.git.get(session.id);
    if (git === undefined || git.state === "loading") rows.push(["git state", "reading…"]);
    else if (git.state === "failed") rows.push(["git state", `unknown: ${git.message}`]);
    else {
      const { status } = git;
      const count = (/** @type {number | null} */ n) => (n === null ? "unknown (branch or base gone)" : String(n));
      rows.push(
        ["uncommitted work", status.dirty === null ? "unknown (the folder is missing)" : yesNo(status.dirty)],
        ["ahead of its base", count(status.ahead)],
        ["behind its base", count(status.behind)],
        ["landed", status.landed ?? "no"],
        ["disk use", formatBytes(status.diskBytes)],
        ["last changed", status.lastChangedAt],
      );
    }
  }
  return fields(rows);
}

/** @param {Session} session */
function seenEvents(session) {
  return recentEvents(state.seen.get(session.id));
}

/** @param {string} id */
function showDetail(id) {
  state.selected = id;
  // The detail reads the git state afresh: the worktree may have changed since the row read it.
  if (state.sessions.get(id)?.isWorktree) {
    state.git.delete(id);
    requestGitState(id);
  }
  snapshotsOf?.stale(id);
  render();
  byId("detail").focus();
}

function renderDetail() {
  const panel = byId("detail");
  const session = state.selected === null ? undefined : state.sessions.get(state.selected);
  if (session === undefined) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  byId("detail-title").textContent = session.title;
  // A scrolled part (the setup's output) keeps its place across a redraw; one scrolled to its end stays at the end.
  /** @type {Map<string, { top: number; atEnd: boolean }>} */
  const scrolled = new Map();
  for (const element of panel.querySelectorAll("[data-keep-scroll]")) {
    scrolled.set(element.getAttribute("data-keep-scroll") ?? "", {
      top: element.scrollTop,
      atEnd: element.scrollTop + element.clientHeight >= element.scrollHeight - 4,
    });
  }
  const focused = document.activeElement;
  const focusKey = focused instanceof HTMLElement && panel.contains(focused)
    ? focused.getAttribute("data-focus")
    : null;
  byId("detail-body").replaceChildren(
    ...DETAIL_SECTIONS.map((section) =>
      h(
        "section",
        { "data-part": section.title.toLowerCase().replace(/ /g, "-") },
        h("h3", {}, section.title),
        section.render(session),
      )
    ),
  );
  for (const element of panel.querySelectorAll("[data-keep-scroll]")) {
    const before = scrolled.get(element.getAttribute("data-keep-scroll") ?? "");
    element.scrollTop = before === undefined || before.atEnd ? element.scrollHeight : before.top;
  }
  if (focusKey !== null && document.activeElement !== focused) {
    const again = panel.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`);
    if (again instanceof HTMLElement) again.focus();
  }
}

/**
 * A worktree session's git state in a few words: `dirty`, `clean`, how it landed, ahead and behind.
 * @param {Session} session
 * @returns {Node | string}
 */
function gitCell(session) {
  if (!session.isWorktree) return "—";
  const git = state.git.get(session.id);
  if (git === undefined || git.state === "loading") return h("span", { class: "pending" }, "…");
  if (git.state === "failed") return h("span", { class: "pending", title: git.message }, "unknown");
  const { status } = git;
  const words = [status.dirty === null ? "folder missing" : status.dirty ? "dirty" : "clean"];
  if (status.landed !== null) words.push(status.landed);
  if (status.ahead !== null && status.ahead > 0) words.push(`${status.ahead} ahead`);
  if (status.behind !== null && status.behind > 0) words.push(`${status.behind} behind`);
  return h("span", { class: status.dirty ? "git dirty" : "git" }, words.join(", "));
}

/** @param {Session} session @returns {Node | string} */
function diskCell(session) {
  if (!session.isWorktree) return "—";
  const git = state.git.get(session.id);
  if (git === undefined || git.state === "loading") return h("span", { class: "pending" }, "…");
  if (git.state === "failed") return h("span", { class: "pending", title: git.message }, "unknown");
  return formatBytes(git.status.diskBytes);
}

/** The table's columns after the title; `git` marks the ones drawn from the git state, redrawn when it comes. */
const COLUMNS = [
  { header: "Status", cell: (/** @type {Session} */ s) => h("span", { class: `status ${s.status}` }, s.status) },
  { header: "Branch", cell: (/** @type {Session} */ s) => s.branchName ?? "—" },
  { header: "Worktree", className: "path", cell: (/** @type {Session} */ s) => s.worktreePath ?? "—" },
  {
    header: "Age",
    cell: (/** @type {Session} */ s) => h("time", { datetime: s.createdAt, title: s.createdAt }, age(s.createdAt)),
  },
  { header: "Git", git: true, cell: gitCell },
  { header: "Disk", git: true, cell: diskCell },
];

/** @param {Repository} repository @param {Session[]} sessions */
function repositoryTable(repository, sessions) {
  const headingId = `repository-${repository.id}`;
  const body = sessions.length === 0 ? h("p", { class: "empty" }, "No sessions.") : h(
    "table",
    { "aria-labelledby": headingId },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Title"),
        COLUMNS.map((column) => h("th", { scope: "col" }, column.header)),
        h("th", { scope: "col" }, "Actions"),
      ),
    ),
    h(
      "tbody",
      {},
      sessions.map((session) =>
        h(
          "tr",
          {
            "data-session-id": session.id,
            "data-worktree": session.isWorktree,
            class: session.id === state.selected ? "selected" : null,
          },
          h("th", { scope: "row" }, session.title),
          COLUMNS.map((column) =>
            h("td", {
              "data-label": column.header,
              "data-git": column.git ?? false,
              class: column.className ?? null,
            }, column.cell(session))
          ),
          h(
            "td",
            { "data-label": "Actions", class: "actions" },
            ROW_ACTIONS.filter((action) => action.show(session)).map((action) =>
              h("button", {
                type: "button",
                class: action.className ?? null,
                "data-focus": `${action.slot ?? action.label}:${session.id}`,
                "aria-label": `${action.label} ${session.title}`,
                // Not `disabled`: a disabled button would drop the keyboard focus.
                "aria-disabled": state.busy.has(session.id) && action.slot !== undefined ? "true" : null,
                onclick: () => action.run(session),
              }, action.label)
            ),
          ),
        )
      ),
    ),
  );
  return h(
    "section",
    { class: "repository", "data-repository-id": repository.id },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: headingId }, repository.name),
      repository.isGitRepository
        ? h("button", {
          type: "button",
          "aria-haspopup": "dialog",
          "data-focus": `snapshots:${repository.id}`,
          "aria-label": `Snapshots of ${repository.name}…`,
          onclick: () => snapshotsOf?.openList(repository),
        }, "Snapshots…")
        : null,
    ),
    h("p", { class: "path" }, repository.path),
    underWay.region(repository.id),
    body,
  );
}

function renderRepositories() {
  const repositories = [...state.repositories.values()];
  const byRepository = new Map(repositories.map((repository) => [repository.id, /** @type {Session[]} */ ([])]));
  for (const session of state.sessions.values()) byRepository.get(session.repositoryId)?.push(session);
  const list = byId("repositories");
  if (repositories.length === 0) {
    list.replaceChildren(h("p", { class: "empty" }, 'No repositories yet: add one with "slo repo add <path>".'));
    return;
  }
  list.replaceChildren(
    ...repositories.map((repository) => repositoryTable(repository, byRepository.get(repository.id) ?? [])),
  );
  watchRows();
}

// ---------------------------------------------------------------------------------------------
// The git state of the rows in view

/** @type {IntersectionObserver | null} */
let rowsInView = null;
/** @type {string[]} sessions waiting for their git state to be read */
const gitQueue = [];
let gitReading = 0;

/** Watches the worktree rows whose git state is not known, to read it once a row comes into view. */
function watchRows() {
  rowsInView ??= new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      rowsInView?.unobserve(entry.target);
      const id = entry.target.getAttribute("data-session-id");
      if (id !== null) requestGitState(id);
    }
  }, { rootMargin: "200px 0px" });
  rowsInView.disconnect();
  for (const row of document.querySelectorAll("tr[data-worktree]")) {
    const id = row.getAttribute("data-session-id");
    if (id !== null && !state.git.has(id)) rowsInView.observe(row);
  }
}

/** Queues a read of a session's git state, unless it is known or being read. @param {string} id */
function requestGitState(id) {
  if (state.git.has(id)) return;
  state.git.set(id, { state: "loading" });
  gitQueue.push(id);
  readGitStates();
}

function readGitStates() {
  while (gitReading < STATUS_CONCURRENCY && gitQueue.length > 0) {
    const id = /** @type {string} */ (gitQueue.shift());
    gitReading++;
    readGitState(id).finally(() => {
      gitReading--;
      readGitStates();
    });
  }
}

/** @param {string} id */
async function readGitState(id) {
  const reading = state.git.get(id);
  // Made stale (or the session left) while it waited in the queue: a newer read is queued, or none is needed.
  if (reading === undefined || reading.state !== "loading" || !state.sessions.has(id)) {
    if (reading?.state === "loading" && !state.sessions.has(id)) state.git.delete(id);
    return;
  }
  /** @type {GitState} */
  let read;
  try {
    read = { state: "done", status: await api(`sessions/${encodeURIComponent(id)}/status`) };
  } catch (error) {
    if (error instanceof SignedOut) return signOut(error.message);
    read = { state: "failed", message: messageOf(error) };
  }
  // An event made this read stale while it ran: the newer one stands.
  if (state.git.get(id) !== reading) return;
  state.git.set(id, read);
  redrawGitCells(id);
}

/** Redraws only the git cells of one row (and its detail), not the whole page. @param {string} id */
function redrawGitCells(id) {
  const session = state.sessions.get(id);
  if (session === undefined) return;
  const row = document.querySelector(`tr[data-session-id="${CSS.escape(id)}"]`);
  if (row !== null) {
    for (const column of COLUMNS) {
      if (!column.git) continue;
      row.querySelector(`td[data-git][data-label="${column.header}"]`)?.replaceChildren(column.cell(session));
    }
  }
  if (state.selected === id) renderDetail();
}

function renderRepositoryChoice() {
  const select = /** @type {HTMLSelectElement} */ (byId("new-repository"));
  const chosen = select.value;
  select.replaceChildren(
    ...[...state.repositories.values()].map((repository) => h("option", { value: repository.id }, repository.name)),
  );
  if (state.repositories.has(chosen)) select.value = chosen;
  else syncWorktreeChoice();
}

// A git repository's sessions get a worktree by default, as with "slo new"; another's cannot.
function syncWorktreeChoice() {
  const repository = state.repositories.get(/** @type {HTMLSelectElement} */ (byId("new-repository")).value);
  /** @type {HTMLInputElement} */ (byId("new-worktree")).checked = repository?.isGitRepository ?? false;
}

/** Draws everything again, keeping the focus on the same control when it is still there. */
function render() {
  const focused = document.activeElement?.getAttribute("data-focus") ?? null;
  renderRepositories();
  renderRepositoryChoice();
  renderDetail();
  if (focused !== null) {
    const again = document.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
    if (again instanceof HTMLElement) again.focus();
  }
}

// ---------------------------------------------------------------------------------------------
// Actions

/** @param {Session} session */
function confirmDelete(session) {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm-delete"));
  const force = /** @type {HTMLInputElement} */ (byId("confirm-delete-force"));
  const deleteBranch = /** @type {HTMLInputElement} */ (byId("confirm-delete-branch"));
  const losses = [h("li", {}, "The session and its secret are deleted; this cannot be undone.")];
  if (session.worktreePath !== null) {
    losses.push(h(
      "li",
      {},
      session.createdWorktree
        ? `Its worktree at ${session.worktreePath} is removed. If it has uncommitted or untracked changes, ` +
          "the delete is refused unless you force it."
        : `Its worktree at ${session.worktreePath} was not made by this server, and is kept.`,
    ));
  }
  if (session.branchName !== null) {
    losses.push(h(
      "li",
      {},
      session.createdBranch
        ? `Its branch ${session.branchName} is kept unless you also delete it below.`
        : `Its branch ${session.branchName} was not made by this server, and is kept.`,
    ));
  }
  byId("confirm-delete-title").textContent = `Delete the session “${session.title}”?`;
  byId("confirm-delete-losses").replaceChildren(...losses);
  byId("confirm-delete-snapshot").textContent = `refs/session-snapshots/${session.id}`;
  byId("confirm-delete-force-label").hidden = !session.createdWorktree;
  byId("confirm-delete-branch-label").hidden = !session.createdBranch;
  force.checked = false;
  deleteBranch.checked = false;
  byId("confirm-delete-error").textContent = "";
  dialog.dataset.sessionId = session.id;
  dialog.showModal();
}

async function deleteConfirmed() {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm-delete"));
  const id = dialog.dataset.sessionId;
  if (id === undefined) return;
  const session = state.sessions.get(id);
  const query = new URLSearchParams();
  if (/** @type {HTMLInputElement} */ (byId("confirm-delete-force")).checked) query.set("force", "true");
  if (/** @type {HTMLInputElement} */ (byId("confirm-delete-branch")).checked) query.set("deleteBranch", "true");
  const ok = /** @type {HTMLButtonElement} */ (byId("confirm-delete-ok"));
  ok.disabled = true;
  try {
    const deleted = await api(`sessions/${encodeURIComponent(id)}${query.size > 0 ? `?${query}` : ""}`, {
      method: "DELETE",
    });
    dialog.close();
    state.sessions.delete(id);
    if (state.selected === id) state.selected = null;
    render();
    announce(
      `Deleted session “${deleted.title}”.` +
        (deleted.snapshotRef ? ` Its work is saved under ${deleted.snapshotRef}.` : ""),
    );
  } catch (error) {
    if (error instanceof SignedOut) {
      dialog.close();
      return signOut(error.message);
    }
    const status = /** @type {{ status?: number }} */ (error).status;
    if (status === 404) {
      dialog.close();
      state.sessions.delete(id);
      render();
      announce(`The session “${session?.title ?? id}” was deleted already.`);
      return;
    }
    byId("confirm-delete-error").textContent = error instanceof Error ? error.message : String(error);
  } finally {
    ok.disabled = false;
  }
}

/**
 * Archives or restores a session (neither loses anything, so neither asks first) and says what became of its work.
 * @param {Session} session
 * @param {"archive" | "restore"} verb
 */
async function changeLife(session, verb) {
  if (state.busy.has(session.id)) return;
  state.busy.add(session.id);
  render();
  try {
    const answer = await api(`sessions/${encodeURIComponent(session.id)}/${verb}`, { method: "POST" });
    const { snapshotRef, head: _head, worktreeRemoved: _removed, ...updated } = answer;
    // Its event may have come first, or a later change after it: the newer record stands.
    const shown = state.sessions.get(updated.id);
    if (shown === undefined || shown.updatedAt <= updated.updatedAt) state.sessions.set(updated.id, updated);
    state.git.delete(updated.id);
    announce(
      verb === "archive"
        ? `Archived session “${updated.title}”: its folder is removed, its branch kept.` +
          (snapshotRef ? ` Its uncommitted work is saved under ${snapshotRef}.` : " It had no uncommitted work.")
        : `Restored session “${updated.title}” at ${updated.worktreePath}, with its work as it was.`,
    );
  } catch (error) {
    if (error instanceof SignedOut) return signOut(error.message);
    announce(`Could not ${verb} “${session.title}”: ${messageOf(error)}`, true);
  } finally {
    state.busy.delete(session.id);
    if (state.loaded) render();
  }
}

/** What a finding's action means, in words. @param {GcFinding} finding */
function gcAction(finding) {
  if (finding.action === "delete") return finding.deleteBranch ? "delete, with its branch" : "delete";
  if (finding.action === "archive") return "archive (work saved)";
  return "keep";
}

/** gc's query: `idle` when an idle limit is given. @param {string} idle @param {boolean} dryRun */
function gcPath(idle, dryRun) {
  const query = new URLSearchParams();
  if (dryRun) query.set("dryRun", "true");
  if (idle !== "") query.set("idle", idle);
  return query.size > 0 ? `gc?${query}` : "gc";
}

/**
 * Asks gc for a dry run, with the idle limit in the dialog's field, and shows its findings;
 * nothing changes until they are confirmed. From the Clean up button it opens the dialog; from the
 * dialog's "Check again" it redraws it, or says why the server refused the limit.
 * @param {"button" | "dialog"} from
 */
async function cleanUp(from) {
  const button = byId(from === "button" ? "gc" : "confirm-gc-check");
  if (button.getAttribute("aria-busy") === "true") return;
  const idle = /** @type {HTMLInputElement} */ (byId("confirm-gc-idle")).value.trim();
  button.setAttribute("aria-busy", "true");
  try {
    /** @type {GcReport} */
    const report = await api(gcPath(idle, true), { method: "POST" });
    showGcFindings(report, idle);
  } catch (error) {
    if (error instanceof SignedOut) return signOut(error.message);
    if (from === "dialog") byId("confirm-gc-error").textContent = messageOf(error);
    else announce(`Could not check what to clean up: ${messageOf(error)}`, true);
  } finally {
    button.removeAttribute("aria-busy");
  }
}

/** @param {GcReport} report @param {string} idle the idle limit the findings were made with ("" for none) */
function showGcFindings(report, idle) {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm-gc"));
  // The confirmed run uses the limit these findings were made with.
  dialog.dataset.idle = idle;
  const count = (/** @type {string} */ action) => report.findings.filter((f) => f.action === action).length;
  const acting = report.findings.length - count("keep");
  byId("confirm-gc-summary").textContent = report.findings.length === 0
    ? "There are no worktree sessions of this server to look at: nothing to clean up."
    : acting === 0
    ? `Nothing to clean up: all ${report.findings.length} worktree sessions are kept. Nothing has changed.`
    : `A clean-up would delete ${count("delete")}, archive ${count("archive")} and keep ${count("keep")} ` +
      `worktree sessions, freeing ${formatBytes(report.reclaimedBytes)}. Nothing has changed yet: it decides ` +
      "again when it runs, and never forces a delete.";
  byId("confirm-gc-summary").append(
    idle === "" ? " No idle limit: idle sessions are kept." : ` Active sessions idle longer than ${idle} are archived.`,
  );
  const headers = ["Session", "Would", "Why", "Git", "Disk"];
  byId("confirm-gc-findings").replaceChildren(
    report.findings.length === 0 ? "" : h(
      "table",
      { class: "findings" },
      h("caption", {}, "What a clean-up would do, per session"),
      h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
      h(
        "tbody",
        {},
        report.findings.map((finding) =>
          h(
            "tr",
            { "data-finding": finding.sessionId, "data-action": finding.action },
            h("th", { scope: "row" }, finding.title),
            h("td", { "data-label": "Would" }, h("span", { class: `action ${finding.action}` }, gcAction(finding))),
            h("td", { "data-label": "Why" }, finding.reason),
            h(
              "td",
              { "data-label": "Git" },
              [finding.dirty === null ? "folder missing" : finding.dirty ? "dirty" : "clean", finding.landed]
                .filter((word) => word !== null).join(", "),
            ),
            h("td", { "data-label": "Disk" }, formatBytes(finding.diskBytes)),
          )
        ),
      ),
    ),
  );
  byId("confirm-gc-error").textContent = "";
  byId("confirm-gc-ok").hidden = acting === 0;
  if (!dialog.open) dialog.showModal();
}

/** Runs gc for real, once its dry run was confirmed, and says what it did. */
async function cleanUpConfirmed() {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm-gc"));
  const ok = /** @type {HTMLButtonElement} */ (byId("confirm-gc-ok"));
  ok.disabled = true;
  try {
    /** @type {GcReport} */
    const report = await api(gcPath(dialog.dataset.idle ?? "", false), { method: "POST" });
    dialog.close();
    const done = (/** @type {string} */ action) => report.findings.filter((f) => f.done && f.action === action);
    // The deletes' events may still be on their way: the answer says they are done.
    for (const finding of done("delete")) {
      state.sessions.delete(finding.sessionId);
      if (state.selected === finding.sessionId) state.selected = null;
    }
    render();
    const failures = report.findings.filter((f) => f.error !== null);
    announce(
      `Cleaned up: deleted ${done("delete").length} and archived ${done("archive").length} sessions, freeing ` +
        `${formatBytes(report.reclaimedBytes)}.` +
        failures.map((f) => ` Could not ${f.action} “${f.title}”: ${f.error}.`).join(""),
      failures.length > 0,
    );
  } catch (error) {
    if (error instanceof SignedOut) {
      dialog.close();
      return signOut(error.message);
    }
    byId("confirm-gc-error").textContent = messageOf(error);
  } finally {
    ok.disabled = false;
  }
}

/** @param {SubmitEvent} event */
async function createSession(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (byId(id)).value.trim();
  const error = byId("new-session-error");
  error.textContent = "";
  const repositoryId = value("new-repository");
  const title = value("new-title");
  if (repositoryId === "") return void (error.textContent = "Add a repository first: slo repo add <path>.");
  if (title === "") return void (error.textContent = "A session needs a title.");
  const isWorktree = /** @type {HTMLInputElement} */ (byId("new-worktree")).checked;
  /** @type {Record<string, unknown>} */
  const body = { repositoryId, title, isWorktree };
  if (isWorktree && value("new-worktree-name") !== "") body.worktreeName = value("new-worktree-name");
  if (isWorktree && value("new-branch") !== "") body.branchName = value("new-branch");
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
  submit.disabled = true;
  const line = underWay.started(repositoryId, title);
  /** @type {string | null} */
  let made = null;
  try {
    const session = await api("sessions", { method: "POST", body: JSON.stringify(body) });
    made = session.id;
    state.sessions.set(session.id, session);
    line.done(made);
    render();
    announce(`Created session “${session.title}”.`);
    /** @type {HTMLInputElement} */ (byId("new-title")).value = "";
    /** @type {HTMLInputElement} */ (byId("new-worktree-name")).value = "";
    /** @type {HTMLInputElement} */ (byId("new-branch")).value = "";
  } catch (failure) {
    if (failure instanceof SignedOut) return signOut(failure.message);
    error.textContent = failure instanceof Error ? failure.message : String(failure);
  } finally {
    line.done(made);
    submit.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Signing in and out

/** Shows the sign-in hint and nothing else; forgets the credential and everything shown. @param {string} reason */
function signOut(reason) {
  state.stream?.abort();
  state.stream = null;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  state.repositories.clear();
  state.sessions.clear();
  state.seen.clear();
  state.git.clear();
  underWay.clear();
  snapshotsOf?.stale();
  gitQueue.length = 0;
  state.selected = null;
  state.loaded = false;
  byId("repositories").replaceChildren();
  byId("detail-body").replaceChildren();
  byId("dashboard").hidden = true;
  byId("sign-out").hidden = true;
  byId("signed-out-reason").textContent = reason;
  byId("signed-out").hidden = false;
  setConnection("signed-out");
}

function signedIn() {
  byId("signed-out").hidden = true;
  byId("dashboard").hidden = false;
  byId("sign-out").hidden = false;
  setConnection("connecting");
  state.stream = new AbortController();
  follow(state.stream.signal);
}

/**
 * Trades the link's one-time code for the credential. The fragment is removed from the address
 * bar and from this history entry first, before anything else runs.
 */
async function start() {
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (location.hash !== "") history.replaceState(null, "", location.pathname + location.search);
  byId("sign-out").addEventListener("click", () => signOut("You signed out."));
  byId("new-repository").addEventListener("change", syncWorktreeChoice);
  byId("new-session").addEventListener("submit", (event) => createSession(/** @type {SubmitEvent} */ (event)));
  byId("confirm-delete-cancel").addEventListener("click", () => {
    /** @type {HTMLDialogElement} */ (byId("confirm-delete")).close();
  });
  byId("confirm-delete-ok").addEventListener("click", () => deleteConfirmed());
  byId("gc").addEventListener("click", () => cleanUp("button"));
  byId("confirm-gc-idle-form").addEventListener("submit", (event) => {
    event.preventDefault();
    cleanUp("dialog");
  });
  fork = forkDialog({
    call: api,
    forked,
    failed: (error) => {
      if (!(error instanceof SignedOut)) return false;
      signOut(error.message);
      return true;
    },
  });
  snapshotsOf = snapshotParts({
    call: api,
    restored: restoredSnapshot,
    failed: (error) => {
      if (!(error instanceof SignedOut)) return false;
      signOut(error.message);
      return true;
    },
    titleOf: (id) => state.sessions.get(id)?.title ?? null,
  });
  byId("confirm-gc-cancel").addEventListener("click", () => {
    /** @type {HTMLDialogElement} */ (byId("confirm-gc")).close();
  });
  byId("confirm-gc-ok").addEventListener("click", () => cleanUpConfirmed());
  byId("detail-close").addEventListener("click", () => {
    state.selected = null;
    render();
  });
  // Ages move on, and a create that failed elsewhere (it says nothing) stops showing.
  setInterval(() => {
    if (!state.loaded) return;
    underWay.settle();
    renderRepositories();
  }, 30_000);

  if (code !== null) {
    const response = await fetch(SIGN_IN, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
      cache: "no-store",
    }).catch(() => null);
    const body = await response?.json().catch(() => null);
    if (response?.ok && typeof body?.token === "string") {
      sessionStorage.setItem(TOKEN_KEY, body.token);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
      return signOut(body?.error?.message ?? "The sign-in link did not work; the server could not be reached.");
    }
  }
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (state.token === null) return signOut("");
  signedIn();
}

start();
