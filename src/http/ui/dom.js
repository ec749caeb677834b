/**
 * The dashboard's small DOM helpers, shared by its modules: finding an element, making one (data
 * always as text, never parsed as HTML), and a few words for people.
 *
 * @module
 */

/** The page's element with this id; a missing one is a bug in the page. @param {string} id */
export function byId(id) {
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
export function h(tag, attributes = {}, ...children) {
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

/** A size for people: `812 B`, `4.2 KiB`, `1.3 GiB`. @param {number} bytes */
export function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** An error's message. @param {unknown} error */
export const messageOf = (error) => (error instanceof Error ? error.message : String(error));
