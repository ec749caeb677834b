/**
 * The Fork action's dialog: asks for the new session's title (the source's with " (fork)" unless
 * changed), then calls `POST /v1/sessions/{id}/fork`. The new session has its own worktree and a
 * new branch from the source's commit, with the source's uncommitted work copied in; the source is
 * left as it is. The dialog stays open with the server's message when it refuses.
 *
 * @module
 */

import { byId, messageOf } from "./dom.js";

/**
 * @typedef {{
 *   call: (path: string, init?: RequestInit) => Promise<any>;
 *   forked: (fork: any, source: { id: string; title: string }) => void;
 *   failed: (error: unknown) => boolean;
 * }} ForkOptions
 * `call` is the page's API call, `forked` shows the new session, `failed` handles a failure that
 * is the page's business (a refused credential: it signs out, and answers `true`).
 */

/**
 * Wires the dialog (`#fork` in the page) once; `open(session)` shows it for a source session.
 * @param {ForkOptions} options
 * @returns {{ open: (session: { id: string; title: string }) => void }}
 */
export function forkDialog(options) {
  const dialog = /** @type {HTMLDialogElement} */ (byId("fork"));
  const form = /** @type {HTMLFormElement} */ (byId("fork-form"));
  const title = /** @type {HTMLInputElement} */ (byId("fork-title-input"));
  const error = byId("fork-error");
  const ok = /** @type {HTMLButtonElement} */ (byId("fork-ok"));

  byId("fork-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = dialog.dataset.sessionId;
    if (id === undefined || ok.getAttribute("aria-busy") === "true") return;
    const source = { id, title: dialog.dataset.sessionTitle ?? id };
    const wanted = title.value.trim();
    error.textContent = "";
    ok.setAttribute("aria-busy", "true");
    try {
      const fork = await options.call(`sessions/${encodeURIComponent(id)}/fork`, {
        method: "POST",
        // An empty title: the server's default (the source's, with " (fork)").
        body: JSON.stringify(wanted === "" ? {} : { title: wanted }),
      });
      dialog.close();
      options.forked(fork, source);
    } catch (failure) {
      if (options.failed(failure)) return void dialog.close();
      error.textContent = messageOf(failure);
    } finally {
      ok.removeAttribute("aria-busy");
    }
  });

  return {
    open(session) {
      dialog.dataset.sessionId = session.id;
      dialog.dataset.sessionTitle = session.title;
      byId("fork-heading").textContent = `Fork the session “${session.title}”`;
      title.value = `${session.title} (fork)`;
      error.textContent = "";
      dialog.showModal();
      title.focus();
      title.select();
    },
  };
}
