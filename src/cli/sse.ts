/**
 * Reading the server's event stream (`GET /v1/events`, server-sent events) as whole events, for
 * `slo events` and the MCP server's `wait_for_change`.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

/** One server-sent event: its `event:` name (`message` when it had none), its joined `data:` lines and its `id:`. */
export interface ServerSentEvent {
  /** The event's name: `ready`, `gap`, or a lifecycle event's type. */
  event: string;
  /** Its data lines joined with newlines. */
  data: string;
  /** Its `id:` (the durable event id a reconnect resumes after), or `null` when it had none. */
  id: string | null;
}

// One event block; comments (keep-alives) and blocks without data or name are nothing.
function parseEvent(block: string): ServerSentEvent | null {
  let event = "message";
  let id: string | null = null;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length === 0 && event === "message" ? null : { event, data: data.join("\n"), id };
}

/**
 * The events of a server-sent event stream, in order, as they arrive; it ends when the stream
 * does. A broken stream rejects with the reader's error.
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const parsed = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed !== null) yield parsed;
      }
    }
  } finally {
    // A consumer that stops early (it found its event, or timed out) lets go of the connection.
    await reader.cancel().catch(() => {});
  }
}
