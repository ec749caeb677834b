/**
 * A session's recent events, for its detail: taken from the event stream the page already follows
 * (nothing more is fetched), kept per session id, at most `RECENT_EVENTS_LIMIT` of them, and shown
 * newest first.
 *
 * @module
 */

import { h } from "./dom.js";

/** How many events the detail keeps and shows per session. */
export const RECENT_EVENTS_LIMIT = 20;

/**
 * One event as the detail shows it: its id in the stream (`null` when it came without one), when
 * the page got it, its type, and a few words on what it says of the session.
 * @typedef {{ id: string | null; at: Date; type: string; summary: string }} RecentEvent
 */

/**
 * What an event says of its session, in a few words: its status, title and setup state after the change.
 * @param {any} event the event's JSON
 */
function summaryOf(event) {
  const session = event?.session;
  if (session === null || typeof session !== "object") return "";
  const setup = typeof session.setup?.state === "string" ? `setup ${session.setup.state}` : null;
  return [typeof session.status === "string" ? session.status : null, session.title, setup]
    .filter((word) => typeof word === "string" && word !== "").join(" · ");
}

/**
 * Keeps an event of a session, the newest first, dropping the oldest past the limit.
 * @param {Map<string, RecentEvent[]>} recent by session id
 * @param {string} sessionId
 * @param {{ id: string | null; type: string; event: unknown }} message
 */
export function recordEvent(recent, sessionId, message) {
  const entry = { id: message.id, at: new Date(), type: message.type, summary: summaryOf(message.event) };
  recent.set(sessionId, [entry, ...(recent.get(sessionId) ?? [])].slice(0, RECENT_EVENTS_LIMIT));
}

/**
 * A session's recent events, newest first, as a list; a line saying there are none yet otherwise.
 * @param {RecentEvent[] | undefined} entries
 * @returns {Node}
 */
export function recentEvents(entries) {
  if (entries === undefined || entries.length === 0) {
    return h("p", { class: "empty" }, "None since this page opened.");
  }
  return h(
    "ol",
    { class: "events", "aria-label": `The last ${entries.length} events of this session, newest first` },
    entries.map((entry) =>
      h(
        "li",
        { "data-event-type": entry.type, "data-event-id": entry.id },
        h("time", { datetime: entry.at.toISOString() }, entry.at.toLocaleTimeString()),
        " ",
        h("code", {}, entry.type),
        entry.summary === "" ? "" : ` ${entry.summary}`,
        entry.id === null ? "" : h("span", { class: "event-id" }, ` #${entry.id}`),
      )
    ),
  );
}
