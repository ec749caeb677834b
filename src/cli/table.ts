/**
 * Rendering for people: aligned tables, field lists, short ids and ages. Text that came from the
 * server is shown with its control characters escaped, so a name or path cannot move the cursor
 * or recolour the terminal.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

/** One column of a table. */
export interface Column<T> {
  /** Its header. */
  header: string;
  /** Its cell for a row. */
  value: (row: T) => string;
  /** Right-aligned (numbers); left by default. */
  align?: "left" | "right";
  /** Cut (with `…`) when the table is wider than `width`; the widest such column is cut first. */
  shrink?: boolean;
  /**
   * Gives way before every other column when the table is wider than `width`: it is cut first, and
   * left out altogether rather than cut narrower than this many columns (a path cut to a handful of
   * characters tells nothing). Of several such columns, the rightmost gives way first.
   */
  dropBelow?: number;
  /** Where a cut value loses its characters: its end (the default), or its start (a path, whose end tells it apart). */
  cut?: "end" | "start";
}

/** Options of {@linkcode renderTable}. */
export interface TableOptions {
  /** The widest a line may be (a terminal's columns); unlimited by default. */
  width?: number;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` with control characters (escape sequences, line breaks, tabs) shown as `\xNN` / `\n`. */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

// Wide (East Asian wide and fullwidth) and emoji code points take two terminal columns.
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) || (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd);
}

// Combining marks and zero-width characters take none.
const ZERO_WIDTH = /[\u0300-\u036f\u200b-\u200f\u20d0-\u20ff\ufe00-\ufe0f]/;

/** How many terminal columns `text` takes. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    if (ZERO_WIDTH.test(char)) continue;
    width += isWide(char.codePointAt(0)!) ? 2 : 1;
  }
  return width;
}

const charWidth = (char: string): number => ZERO_WIDTH.test(char) ? 0 : isWide(char.codePointAt(0)!) ? 2 : 1;

/** `text` cut to at most `width` columns, ending with `…` when cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 1) return width === 1 ? "…" : "";
  let out = "";
  let used = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (used + w > width - 1) break;
    out += char;
    used += w;
  }
  return `${out}…`;
}

/** `text` cut to at most `width` columns from its start, beginning with `…` when cut: a path keeps its end. */
export function truncateStart(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 1) return width === 1 ? "…" : "";
  const chars = [...text];
  let out = "";
  let used = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const w = charWidth(chars[i]);
    if (used + w > width - 1) break;
    out = chars[i] + out;
    used += w;
  }
  return `…${out}`;
}

function pad(text: string, width: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, width - displayWidth(text)));
  return align === "right" ? fill + text : text + fill;
}

/**
 * The rows as an aligned table with a header line, columns two spaces apart, no trailing spaces.
 * With `width`, the columns that give way (`dropBelow`) are cut, or left out, first, and then the
 * columns that may shrink are cut until every line fits.
 *
 * @example
 * ```ts
 * import { renderTable } from "./table.ts";
 *
 * console.log(renderTable([{ header: "ID", value: (r: { id: string }) => r.id }], [{ id: "3f1c2b9e" }]));
 * // ID
 * // 3f1c2b9e
 * ```
 */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[], options: TableOptions = {}): string {
  const cells = rows.map((row) => columns.map((column) => printable(column.value(row))));
  const widths = columns.map((column, i) =>
    Math.max(displayWidth(column.header), ...cells.map((line) => displayWidth(line[i])))
  );
  // The columns shown, by index.
  let shown = columns.map((_, i) => i);
  if (options.width !== undefined) {
    let over = shown.reduce((sum, i) => sum + widths[i], 2 * (shown.length - 1)) - options.width;
    for (const i of [...shown].reverse()) {
      const dropBelow = columns[i].dropBelow;
      if (over <= 0 || dropBelow === undefined || shown.length === 1) continue;
      const floor = Math.max(displayWidth(columns[i].header), dropBelow);
      if (widths[i] - over >= floor) {
        widths[i] -= over;
        over = 0;
      } else {
        shown = shown.filter((j) => j !== i);
        over -= widths[i] + 2;
      }
    }
    while (over > 0) {
      // Cut the widest column that may shrink, one column at a time, down to its header's width.
      let widest = -1;
      for (const i of shown) {
        const floor = Math.max(displayWidth(columns[i].header), 4);
        if (columns[i].shrink && widths[i] > floor && (widest === -1 || widths[i] > widths[widest])) widest = i;
      }
      if (widest === -1) break;
      widths[widest]--;
      over--;
    }
  }
  const fit = (value: string, i: number) =>
    columns[i].cut === "start" ? truncateStart(value, widths[i]) : truncate(value, widths[i]);
  const line = (values: readonly string[]) =>
    shown.map((i) => pad(fit(values[i], i), widths[i], columns[i].align ?? "left")).join("  ").trimEnd();
  return [line(columns.map((column) => column.header)), ...cells.map(line)].join("\n");
}

/** Label–value pairs, one per line, the values aligned; an empty value shows as `-`. */
export function renderFields(fields: readonly (readonly [string, string | null])[]): string {
  const width = Math.max(...fields.map(([label]) => displayWidth(label)));
  return fields.map(([label, value]) => `${pad(`${label}:`, width + 1, "left")}  ${printable(value ?? "-") || "-"}`)
    .join("\n");
}

/**
 * How many trailing characters tell every id in `ids` apart, at least `minimum` (8, as `git` shows
 * abbreviated hashes). Ids are time-ordered UUIDs (v7), whose leading characters are the same for
 * everything made within about a minute, so a table shows their random end, and a short id is
 * accepted back as the end (or the start) of an id.
 */
export function shortIdLength(ids: readonly string[], minimum = 8): number {
  let length = minimum;
  const longest = Math.max(0, ...ids.map((id) => id.length));
  while (length < longest && new Set(ids.map((id) => id.slice(-length))).size < ids.length) length++;
  return length;
}

/** The short form of an id a table or a message shows: its last `length` characters. */
export function shortId(id: string, length = 8): string {
  return id.slice(-length);
}

/** A time's age as people read it: `12s`, `5m`, `3h`, `2d`, or a date for anything older than 30 days. */
export function age(iso: string, now: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 30 * 86_400) return `${Math.floor(seconds / 86_400)}d`;
  return iso.slice(0, 10);
}

/** A size for people: `812 B`, `4.2 KiB`, `1.3 GiB` (binary units). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
