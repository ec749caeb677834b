/**
 * Two parts of a session's detail: the ports leased to it, and its setup (the operator's commands
 * run in its new worktree): its state as a badge, the command that failed or was cut short and
 * why, and the end of its output in a scrollable `<pre>`, as text. Both are drawn from the session
 * record alone, so the `session.updated` events the page follows keep them live. A failed or
 * interrupted setup offers "Run setup again" (`POST /v1/sessions/{id}/setup`, done by the page).
 *
 * @module
 */

import { h } from "./dom.js";

/**
 * A session's setup, as the API gives it on the session record.
 * @typedef {{
 *   state: "running" | "succeeded" | "failed" | "interrupted"; commands: number; current: number | null;
 *   command: string[] | null; exitCode: number | null; reason: string | null; startedAt: string;
 *   finishedAt: string | null; logTail: string;
 * }} SessionSetup
 */

/** What each setup state means, for the badge's title. */
const STATE_WORDS = {
  running: "its commands are running",
  succeeded: "every command succeeded",
  failed: "a command failed; the session is kept",
  interrupted: "cut short (a stop, a delete or a killed server); never run again by itself",
};

/**
 * The ports leased to a session, ascending; a line saying there are none otherwise.
 * @param {{ ports?: number[] }} session
 * @returns {Node}
 */
export function portsPart(session) {
  const ports = session.ports ?? [];
  if (ports.length === 0) return h("p", { class: "empty" }, "No ports leased.");
  return h(
    "ul",
    { class: "ports", "aria-label": `${ports.length} leased port${ports.length === 1 ? "" : "s"}` },
    ports.map((port) => h("li", { "data-port": String(port) }, h("code", {}, String(port)))),
  );
}

/** An argument as a shell would need it quoted: as it is when plain, in single quotes otherwise. @param {string} word */
function shellWord(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * A setup state as a badge, its state word in it (so it is read as text, not by its colour).
 * @param {SessionSetup} setup
 * @param {string} sessionId
 */
function badge(setup, sessionId) {
  return h("span", {
    class: `badge setup-${setup.state}`,
    "data-setup-state": setup.state,
    title: STATE_WORDS[setup.state] ?? "",
    // Where the keyboard focus goes once "Run setup again" is pressed (its button leaves the page then).
    tabindex: "-1",
    "data-focus": `setup-state:${sessionId}`,
  }, setup.state);
}

/**
 * A session's setup: state, command, reason, times and the end of its output; with a "Run setup
 * again" button when it failed or was interrupted.
 * @param {{ id: string; title: string; setup?: SessionSetup | null }} session
 * @param {{ busy: boolean; runAgain: () => void }} options `busy`: a run is being asked for
 * @returns {Node}
 */
export function setupPart(session, options) {
  const setup = session.setup ?? null;
  if (setup === null) return h("p", { class: "empty" }, "None ran: its repository has no setup commands.");
  const which = setup.current === null ? null : `${setup.current + 1} of ${setup.commands}`;
  // Quoted as a shell would need it, so the words of the argument array show.
  const command = setup.command === null ? null : setup.command.map(shellWord).join(" ");
  /** @type {[string, Node | string | null][]} */
  const rows = [
    ["state", badge(setup, session.id)],
    ["commands", String(setup.commands)],
  ];
  if (setup.state === "running" && which !== null) {
    rows.push(["running", h("span", {}, `${which}: `, h("code", { class: "command" }, command ?? "…"))]);
  }
  if (setup.state === "failed" || setup.state === "interrupted") {
    rows.push([
      setup.state === "failed" ? "failed command" : "cut short at",
      h("span", {}, `${which ?? "?"}: `, h("code", { class: "command" }, command ?? "—")),
    ]);
    rows.push(["reason", setup.reason]);
  }
  if (setup.exitCode !== null) rows.push(["exit code", String(setup.exitCode)]);
  rows.push(["started", setup.startedAt], ["finished", setup.finishedAt]);
  const logId = `setup-log-${session.id}`;
  const canRunAgain = setup.state === "failed" || setup.state === "interrupted";
  return h(
    "div",
    { class: "setup", "data-setup-state": setup.state },
    h("dl", {}, rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value ?? "—")])),
    h("p", { class: "log-label", id: `${logId}-label` }, "The end of its output"),
    setup.logTail === "" ? h("p", { class: "empty" }, "No output.") : h("pre", {
      class: "log",
      id: logId,
      // Focusable, so the keyboard can scroll it.
      tabindex: "0",
      "aria-labelledby": `${logId}-label`,
      "data-keep-scroll": logId,
      "data-focus": logId,
    }, setup.logTail),
    canRunAgain
      ? h("button", {
        type: "button",
        class: "run-setup",
        "data-focus": `setup-run:${session.id}`,
        "aria-label": `Run setup again for ${session.title}`,
        // Not `disabled`: a disabled button would drop the keyboard focus.
        "aria-disabled": options.busy ? "true" : null,
        onclick: () => options.runAgain(),
      }, "Run setup again")
      : null,
  );
}
