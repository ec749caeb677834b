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
 * To add an action (archive, restore, fork) or a part of a session's detail (ports, setup log,
 * snapshots), add an entry to `ROW_ACTIONS` or `DETAIL_SECTIONS`.
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
 *   createdAt: string; updatedAt: string; lastAccessedAt: string | null;
 * }} Session
 */
/** @typedef {{ at: Date; type: string }} SeenEvent */

const TOKEN_KEY = "session-lifecycle-orchestrator.dashboard.token";
// Relative to the page (`<prefix>/ui/`), so the dashboard works under a mount prefix too.
const API = new URL("../v1/", location.href);
const SIGN_IN = new URL("sign-in", location.href);
const PAGE_SIZE = 1000;
const MAX_SEEN_EVENTS = 50;

const state = {
  /** @type {string | null} */
  token: null,
  /** @type {Map<string, Repository>} */
  repositories: new Map(),
  /** @type {Map<string, Session>} */
  sessions: new Map(),
  /** @type {string | null} the session whose detail shows */
  selected: null,
  /** @type {Map<string, SeenEvent[]>} events seen for each session since the page opened */
  seen: new Map(),
  /** @type {string | null} the last event id the stream gave */
  lastEventId: null,
  /** @type {AbortController | null} */
  stream: null,
  loaded: false,
};

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * An element with attributes and children; strings become text nodes, so data is never parsed as HTML.
 * @param {string} tag
 * @param {Record<string, string | boolean | null | undefined | ((event: Event) => void)>} [attributes]
 * @param {...(Node | string | null | undefined | false | (Node | string | null | undefined | false)[])} children
 * @returns {HTMLElement}
 */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** A short age: `12s`, `4m`, `3h`, `2d`. @param {string} iso */
function age(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** @param {string} text */
function announce(text) {
  byId("notice").textContent = text;
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
  state.loaded = true;
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
        apply(message.event, message.data);
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
 */
function apply(type, data) {
  /** @type {any} */
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  if (type === "repository.created") state.repositories.set(event.repository.id, event.repository);
  else if (type === "repository.deleted") state.repositories.delete(event.repository.id);
  else if (
    type === "session.created" || type === "session.updated" || type === "session.archived" ||
    type === "session.restored"
  ) {
    state.sessions.set(event.session.id, event.session);
  } else if (type === "session.deleted") state.sessions.delete(event.session.id);
  const sessionId = event.session?.id ?? event.sessionId;
  if (typeof sessionId === "string") {
    const seen = state.seen.get(sessionId) ?? [];
    seen.push({ at: new Date(), type });
    state.seen.set(sessionId, seen.slice(-MAX_SEEN_EVENTS));
  }
  if (state.loaded) render();
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * What each session's row offers. Archive, restore and fork join this list as the API gains them.
 * @type {{ label: string; className?: string; show: (session: Session) => boolean; run: (session: Session) => void }[]}
 */
const ROW_ACTIONS = [
  { label: "Details", show: () => true, run: (session) => showDetail(session.id) },
  { label: "Delete", className: "danger", show: () => true, run: (session) => confirmDelete(session) },
];

/**
 * The parts of a session's detail, in order. Git status, ports, setup log and snapshots join this
 * list as the API gains them.
 * @type {{ title: string; render: (session: Session) => Node }[]}
 */
const DETAIL_SECTIONS = [
  { title: "Session", render: sessionFields },
  { title: "Git", render: gitFields },
  { title: "Events seen here", render: seenEvents },
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
  return fields([
    ["worktree", session.isWorktree ? session.worktreePath : "none"],
    ["worktree name", session.worktreeName],
    ["branch", session.branchName],
    ["base branch", session.baseBranch],
    ["made its worktree", yesNo(session.createdWorktree)],
    ["made its branch", yesNo(session.createdBranch)],
  ]);
}

/** @param {Session} session */
function seenEvents(session) {
  const seen = state.seen.get(session.id) ?? [];
  if (seen.length === 0) return h("p", { class: "empty" }, "None since this page opened.");
  return h(
    "ol",
    { class: "events" },
    seen.map((event) =>
      h("li", {}, h("time", { datetime: event.at.toISOString() }, event.at.toLocaleTimeString()), " ", event.type)
    ),
  );
}

/** @param {string} id */
function showDetail(id) {
  state.selected = id;
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
  byId("detail-body").replaceChildren(
    ...DETAIL_SECTIONS.map((section) => h("section", {}, h("h3", {}, section.title), section.render(session))),
  );
}

const COLUMNS = [
  { header: "Status", cell: (/** @type {Session} */ s) => h("span", { class: `status ${s.status}` }, s.status) },
  { header: "Branch", cell: (/** @type {Session} */ s) => s.branchName ?? "—" },
  { header: "Worktree", className: "path", cell: (/** @type {Session} */ s) => s.worktreePath ?? "—" },
  {
    header: "Age",
    cell: (/** @type {Session} */ s) => h("time", { datetime: s.createdAt, title: s.createdAt }, age(s.createdAt)),
  },
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
          { "data-session-id": session.id, class: session.id === state.selected ? "selected" : null },
          h("th", { scope: "row" }, session.title),
          COLUMNS.map((column) =>
            h("td", { "data-label": column.header, class: column.className ?? null }, column.cell(session))
          ),
          h(
            "td",
            { "data-label": "Actions", class: "actions" },
            ROW_ACTIONS.filter((action) => action.show(session)).map((action) =>
              h("button", {
                type: "button",
                class: action.className ?? null,
                "data-focus": `${action.label}:${session.id}`,
                "aria-label": `${action.label} ${session.title}`,
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
    h("h3", { id: headingId }, repository.name),
    h("p", { class: "path" }, repository.path),
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
  try {
    const session = await api("sessions", { method: "POST", body: JSON.stringify(body) });
    state.sessions.set(session.id, session);
    render();
    announce(`Created session “${session.title}”.`);
    /** @type {HTMLInputElement} */ (byId("new-title")).value = "";
    /** @type {HTMLInputElement} */ (byId("new-worktree-name")).value = "";
    /** @type {HTMLInputElement} */ (byId("new-branch")).value = "";
  } catch (failure) {
    if (failure instanceof SignedOut) return signOut(failure.message);
    error.textContent = failure instanceof Error ? failure.message : String(failure);
  } finally {
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
  byId("detail-close").addEventListener("click", () => {
    state.selected = null;
    render();
  });
  // Ages move on.
  setInterval(() => state.loaded && renderRepositories(), 30_000);

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
