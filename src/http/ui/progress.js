/**
 * The creates under way, for the dashboard: a line under a repository for each session being made
 * in it ("Creating “Fix the login”… checking out files 450/1000"), with a `<progress>` where the
 * phase has counts. The lines come from the transient `session.progress` events of the stream the
 * page already follows, for any create whose repository is on the page (made here, by a script or
 * by an agent), and from the page's own New session form at once, before the server says anything.
 * A line goes when its session's `session.created` arrives (the row takes its place), when the
 * create moves on to its setup (the row exists by then), when the page's own create is answered,
 * or when it has had no news for `STALE_MS` (a create that failed elsewhere says nothing).
 *
 * Each repository's lines live in one element kept across the page's re-renders, a polite live
 * region (`role="status"`), and each line is updated in place as the events come, so a checkout's
 * counts redraw one line and not the page. What a screen reader is told is the phase (the line's
 * words change only when the phase does); the counts, many a second, are in the labelled
 * `<progress>` for whoever asks, and hidden from the live region. Everything is put in as text.
 *
 * @module
 */

import { h } from "./dom.js";

/** A line with no news for this long is dropped: its create failed, or its process went away. */
export const STALE_MS = 5 * 60_000;

/** The words of each phase (as `slo`'s own progress line says them). */
const PHASES = /** @type {Record<string, string>} */ ({
  plan: "planning",
  add: "adding the worktree",
  checkout: "checking out files",
  include: "copying included files",
  row: "recording the session",
});

/**
 * A create's line in the page: the line, its words, its counts and its bar (while it has counts).
 * @typedef {{ line: HTMLElement; words: HTMLElement; counts: HTMLElement; bar: HTMLProgressElement | null }} View
 */
/**
 * One create under way: the session it makes (`null` until the server's first word of a create the
 * page asked for), its repository, its title when the page knows it, its last phase, and its line.
 * @typedef {{
 *   sessionId: string | null; repositoryId: string; title: string | null; phase: string | null;
 *   done: number | null; total: number | null; detail: string | null; at: number; view: View | null;
 * }} Create
 */

/** What a create's line says of its phase, without the counts. @param {Create} create */
export function describeCreate(create) {
  const what = create.title === null ? "Creating a session…" : `Creating “${create.title}”…`;
  if (create.phase === null) return `${what} starting`;
  const words = `${what} ${PHASES[create.phase] ?? create.phase}`;
  return create.detail === null ? words : `${words} (${create.detail})`;
}

/** A create's counts, `450/1000`, or `null` when its phase has none. @param {Create} create */
export function countsOf(create) {
  return create.done !== null && create.total !== null && create.total > 0 ? `${create.done}/${create.total}` : null;
}

/** A create not yet heard of. @param {string} repositoryId @param {string | null} title @returns {Create} */
const fresh = (repositoryId, title) => ({
  sessionId: null,
  repositoryId,
  title,
  phase: null,
  done: null,
  total: null,
  detail: null,
  at: Date.now(),
  view: null,
});

/**
 * The creates under way on the page, and their lines.
 * @param {{ knows: (repositoryId: string) => boolean; made: (sessionId: string) => boolean }} page
 *   whether a repository is on the page, and whether a session's row is already there
 */
export function creates(page) {
  /** @type {Map<string, Create>} by a key of its own (the session id once known) */
  const underWay = new Map();
  /** @type {Map<string, HTMLElement>} each repository's live region */
  const regions = new Map();
  let next = 0;

  /** @param {string} repositoryId */
  function region(repositoryId) {
    let element = regions.get(repositoryId);
    if (element === undefined) {
      element = h("div", {
        class: "creating",
        role: "status",
        "aria-live": "polite",
        "aria-label": "Sessions being created",
        "data-creating-for": repositoryId,
      });
      regions.set(repositoryId, element);
    }
    return element;
  }

  /**
   * Draws a create's line: made and put in its repository's region the first time, changed in place
   * after, each part only when it says something new.
   * @param {Create} create
   */
  function draw(create) {
    const isNew = create.view === null;
    const view = create.view ?? {
      line: h("p", { class: "creating-line" }),
      words: h("span", { id: `creating-${next++}`, class: "creating-words" }),
      // Many a second while files are written: shown, and in the bar, but not read out at each change.
      counts: h("span", { class: "creating-counts", "aria-hidden": "true" }),
      bar: null,
    };
    create.view = view;
    view.line.setAttribute("data-creating-session-id", create.sessionId ?? "");
    const words = describeCreate(create);
    if (view.words.textContent !== words) view.words.textContent = words;
    const counts = countsOf(create);
    if (view.counts.textContent !== (counts ?? "")) view.counts.textContent = counts ?? "";
    if (counts === null) {
      view.bar?.remove();
      view.bar = null;
    } else {
      view.bar ??= /** @type {HTMLProgressElement} */ (h("progress", { "aria-labelledby": view.words.id }));
      view.bar.max = /** @type {number} */ (create.total);
      view.bar.value = Math.min(/** @type {number} */ (create.done), view.bar.max);
    }
    if (isNew) view.line.append(view.words, view.counts);
    if (view.bar !== null && view.bar.parentElement !== view.line) view.line.append(view.bar);
    if (isNew) region(create.repositoryId).append(view.line);
  }

  /** @param {(key: string, create: Create) => boolean} gone */
  function drop(gone) {
    for (const [key, create] of underWay) {
      if (!gone(key, create)) continue;
      underWay.delete(key);
      create.view?.line.remove();
    }
  }

  return {
    /** The live region of a repository's creates, to put under its heading (the same element each time). */
    region,

    /**
     * A `session.progress` event: its create's line, made or moved on. A create the page asked for
     * and has no session id for yet takes the first news of an unknown create in its repository.
     * @param {any} event the event's JSON
     */
    progress(event) {
      if (typeof event?.sessionId !== "string" || typeof event.repositoryId !== "string") return;
      if (!page.knows(event.repositoryId)) return;
      // From its setup on, the session's row is there, and its setup shows in it.
      if (event.phase === "setup" || page.made(event.sessionId)) {
        drop((_, create) => create.sessionId === event.sessionId);
        return;
      }
      let key = underWay.has(event.sessionId) ? event.sessionId : null;
      if (key === null) {
        const ours = [...underWay].find(([, create]) =>
          create.sessionId === null && create.repositoryId === event.repositoryId
        );
        const create = ours?.[1] ?? fresh(event.repositoryId, null);
        if (ours !== undefined) underWay.delete(ours[0]);
        create.sessionId = event.sessionId;
        underWay.set(event.sessionId, create);
        key = event.sessionId;
      }
      const create = /** @type {Create} */ (underWay.get(key));
      create.phase = typeof event.phase === "string" ? event.phase : null;
      create.done = typeof event.done === "number" ? event.done : null;
      create.total = typeof event.total === "number" ? event.total : null;
      create.detail = typeof event.detail === "string" && event.detail !== "" ? event.detail : null;
      create.at = Date.now();
      draw(create);
    },

    /**
     * A create the page itself asks for, shown at once; `done` removes its line when answered.
     * @param {string} repositoryId
     * @param {string} title
     */
    started(repositoryId, title) {
      const key = `page-${next++}`;
      const create = fresh(repositoryId, title);
      underWay.set(key, create);
      draw(create);
      return {
        /** The create was answered (made or refused): its line goes. @param {string | null} sessionId */
        done(sessionId) {
          drop((k, c) => c === create || k === key || (sessionId !== null && c.sessionId === sessionId));
        },
      };
    },

    /** A session's row came (its `session.created`): its line goes. @param {string} sessionId */
    created(sessionId) {
      drop((_, create) => create.sessionId === sessionId);
    },

    /**
     * After a reconnection (the lists read again): the lines of rows now there, of repositories no
     * longer on the page, and of creates with no news for `STALE_MS`, go. A create still under way
     * elsewhere shows again with its next event.
     */
    settle() {
      const now = Date.now();
      drop((key, create) =>
        !page.knows(create.repositoryId) ||
        (create.sessionId !== null && page.made(create.sessionId)) ||
        (!key.startsWith("page-") && now - create.at > STALE_MS)
      );
    },

    /** Signed out: nothing is under way any more. */
    clear() {
      for (const create of underWay.values()) create.view?.line.remove();
      underWay.clear();
      for (const element of regions.values()) element.replaceChildren();
      regions.clear();
    },
  };
}
