/**
 * Snapshots: the work forced deletes, archives and forks saved under `refs/session-snapshots/`.
 * A session's detail lists its own (`GET /v1/repositories/{id}/snapshots?sessionId=`, read when the
 * detail opens and again after an event that can make one); a repository's "Snapshots…" dialog
 * lists all of them, those of deleted sessions too. Each has "Restore into a new session": a small
 * dialog asks for the new session's title, then `POST /v1/repositories/{id}/snapshots/restore`
 * makes it (its `session.created` event shows it on every page).
 *
 * @module
 */

import { byId, h, messageOf } from "./dom.js";

/**
 * A snapshot as the API lists it.
 * @typedef {{
 *   ref: string; sessionId: string; commit: string; head: string | null; createdAt: string; subject: string;
 *   reason: string | null; changedPaths: number; sessionExists: boolean;
 * }} Snapshot
 */
/**
 * A session's snapshots: being read (each read its own object, so a stale read is told apart),
 * read, or refused with the server's message.
 * @typedef {{ state: "loading" } | { state: "done"; snapshots: Snapshot[] } | { state: "failed"; message: string }} SnapshotsState
 */
/**
 * @typedef {{
 *   call: (path: string, init?: RequestInit) => Promise<any>;
 *   restored: (session: any, snapshot: Snapshot) => void;
 *   failed: (error: unknown) => boolean;
 *   titleOf: (sessionId: string) => string | null;
 * }} SnapshotOptions
 * `call` is the page's API call, `restored` shows the new session, `failed` handles a failure that
 * is the page's business (a refused credential: it signs out, and answers `true`), `titleOf` names
 * a session the page knows.
 */

/** A snapshot's path under `refs/session-snapshots/`. @param {string} ref */
const refName = (ref) => ref.replace(/^refs\/session-snapshots\//, "");

/** `GET …/snapshots`, optionally one session's. @param {string} repositoryId @param {string} [sessionId] */
function listPath(repositoryId, sessionId) {
  const query = sessionId === undefined ? "" : `?${new URLSearchParams({ sessionId })}`;
  return `repositories/${encodeURIComponent(repositoryId)}/snapshots${query}`;
}

/**
 * Snapshots as a table, newest first, each with its restore button.
 * @param {Snapshot[]} snapshots oldest first, as the API lists them
 * @param {{ restore: (snapshot: Snapshot) => void; withSession: boolean; titleOf: (id: string) => string | null; caption: string }} options
 * `withSession`: a column naming each one's session (the repository's list)
 * @returns {Node}
 */
export function snapshotTable(snapshots, options) {
  if (snapshots.length === 0) return h("p", { class: "empty" }, "No snapshots.");
  const headers = ["Taken", "Why", "Changed paths", ...(options.withSession ? ["Session"] : []), "Ref", "Actions"];
  return h(
    "table",
    { class: "snapshots" },
    h("caption", {}, options.caption),
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
    h(
      "tbody",
      {},
      [...snapshots].reverse().map((snapshot) => {
        const title = options.titleOf(snapshot.sessionId);
        return h(
          "tr",
          { "data-snapshot-ref": snapshot.ref, "data-session-exists": String(snapshot.sessionExists) },
          h(
            "th",
            { scope: "row", "data-label": "Taken" },
            h("time", { datetime: snapshot.createdAt }, new Date(snapshot.createdAt).toLocaleString()),
          ),
          h("td", { "data-label": "Why" }, snapshot.reason ?? snapshot.subject),
          h("td", { "data-label": "Changed paths" }, String(snapshot.changedPaths)),
          options.withSession
            ? h(
              "td",
              { "data-label": "Session" },
              title ?? (snapshot.sessionExists ? snapshot.sessionId : `deleted (${snapshot.sessionId})`),
            )
            : null,
          h("td", { "data-label": "Ref", class: "path" }, snapshot.ref),
          h(
            "td",
            { "data-label": "Actions", class: "actions" },
            h("button", {
              type: "button",
              "aria-haspopup": "dialog",
              "data-focus": `snapshot-restore:${snapshot.ref}`,
              "aria-label": `Restore ${refName(snapshot.ref)} into a new session`,
              onclick: () => options.restore(snapshot),
            }, "Restore into a new session"),
          ),
        );
      }),
    ),
  );
}

/**
 * Wires the two dialogs (`#restore-snapshot` and `#snapshots` in the page) once, and keeps the
 * snapshots of the sessions whose detail shows.
 * @param {SnapshotOptions} options
 */
export function snapshots(options) {
  const restoreDialog = /** @type {HTMLDialogElement} */ (byId("restore-snapshot"));
  const restoreForm = /** @type {HTMLFormElement} */ (byId("restore-snapshot-form"));
  const title = /** @type {HTMLInputElement} */ (byId("restore-snapshot-title"));
  const restoreError = byId("restore-snapshot-error");
  const ok = /** @type {HTMLButtonElement} */ (byId("restore-snapshot-ok"));
  const listDialog = /** @type {HTMLDialogElement} */ (byId("snapshots"));
  /** @type {{ repositoryId: string; snapshot: Snapshot } | null} */
  let restoring = null;
  /** @type {Map<string, SnapshotsState>} by session id */
  const bySession = new Map();

  byId("restore-snapshot-cancel").addEventListener("click", () => restoreDialog.close());
  byId("snapshots-close").addEventListener("click", () => listDialog.close());
  restoreForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (restoring === null || ok.getAttribute("aria-busy") === "true") return;
    const { repositoryId, snapshot } = restoring;
    const wanted = title.value.trim();
    restoreError.textContent = "";
    ok.setAttribute("aria-busy", "true");
    try {
      const session = await options.call(`repositories/${encodeURIComponent(repositoryId)}/snapshots/restore`, {
        method: "POST",
        // An empty title: the server's default (`Restored <ref name>`).
        body: JSON.stringify(wanted === "" ? { ref: snapshot.ref } : { ref: snapshot.ref, title: wanted }),
      });
      restoreDialog.close();
      if (listDialog.open) listDialog.close();
      options.restored(session, snapshot);
    } catch (failure) {
      if (options.failed(failure)) {
        restoreDialog.close();
        if (listDialog.open) listDialog.close();
        return;
      }
      restoreError.textContent = messageOf(failure);
    } finally {
      ok.removeAttribute("aria-busy");
    }
  });

  /** @param {string} repositoryId @param {Snapshot} snapshot */
  function openRestore(repositoryId, snapshot) {
    restoring = { repositoryId, snapshot };
    const known = options.titleOf(snapshot.sessionId);
    byId("restore-snapshot-heading").textContent = `Restore ${refName(snapshot.ref)} into a new session`;
    byId("restore-snapshot-what").textContent = `${snapshot.reason ?? snapshot.subject}, ${snapshot.changedPaths} ` +
      `changed path${snapshot.changedPaths === 1 ? "" : "s"}, taken ${new Date(snapshot.createdAt).toLocaleString()}` +
      (known === null ? "" : `, of “${known}”`) + ".";
    title.value = known === null ? "" : `${known} (restored)`;
    title.placeholder = `Restored ${refName(snapshot.ref)}`;
    restoreError.textContent = "";
    restoreDialog.showModal();
    title.focus();
    title.select();
  }

  return {
    /**
     * A session's snapshots as its detail shows them; asks for them (and answers "reading…") when
     * they are not known. `changed` is called once they are.
     * @param {{ id: string; repositoryId: string }} session
     * @param {() => void} changed
     * @returns {Node}
     */
    part(session, changed) {
      let known = bySession.get(session.id);
      if (known === undefined) {
        /** @type {SnapshotsState} */
        const reading = { state: "loading" };
        known = reading;
        bySession.set(session.id, reading);
        options.call(listPath(session.repositoryId, session.id)).then(
          (list) => ({ state: "done", snapshots: list.snapshots }),
          (error) => (options.failed(error) ? null : { state: "failed", message: messageOf(error) }),
        ).then((read) => {
          // Made stale meanwhile: a newer read stands.
          if (read === null || bySession.get(session.id) !== reading) return;
          bySession.set(session.id, /** @type {SnapshotsState} */ (read));
          changed();
        });
      }
      if (known.state === "loading") return h("p", { class: "pending" }, "Reading…");
      if (known.state === "failed") return h("p", { class: "error" }, `Could not read them: ${known.message}`);
      return snapshotTable(known.snapshots, {
        restore: (snapshot) => openRestore(session.repositoryId, snapshot),
        withSession: false,
        titleOf: options.titleOf,
        caption: "Its saved work, newest first",
      });
    },
    /** Forgets what was read, of one session or of all: it is read again when shown. @param {string} [sessionId] */
    stale(sessionId) {
      if (sessionId === undefined) bySession.clear();
      else bySession.delete(sessionId);
    },
    /**
     * Opens the repository's "Snapshots" dialog, with every snapshot it keeps.
     * @param {{ id: string; name: string }} repository
     */
    async openList(repository) {
      byId("snapshots-heading").textContent = `Snapshots of ${repository.name}`;
      const body = byId("snapshots-body");
      body.replaceChildren(h("p", { class: "pending" }, "Reading…"));
      if (!listDialog.open) listDialog.showModal();
      try {
        const list = await options.call(listPath(repository.id));
        body.replaceChildren(snapshotTable(list.snapshots, {
          restore: (snapshot) => openRestore(repository.id, snapshot),
          withSession: true,
          titleOf: options.titleOf,
          caption: "Every snapshot the repository keeps, newest first, those of deleted sessions too",
        }));
      } catch (error) {
        if (options.failed(error)) return void listDialog.close();
        body.replaceChildren(h("p", { class: "error", role: "alert" }, `Could not read them: ${messageOf(error)}`));
      }
    },
  };
}
