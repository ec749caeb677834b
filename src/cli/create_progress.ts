/**
 * Following a create's progress on the server's event stream, for the progress line of `slo new`
 * on a terminal: the `session.progress` events of the first create that starts in the repository
 * once the stream is open (the server chooses the id, so the create is known by its repository and
 * its first phase; the line is news, never what the command answers).
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

import type { ApiClient } from "./client.ts";
import { type CreateProgress, describeProgress } from "./progress.ts";
import { readServerSentEvents } from "./sse.ts";

/** A running follow of a create's progress. */
export interface CreateProgressFollower {
  /** The latest phase in words (see `describeProgress`), or `null` before the first. */
  describe(): string | null;
  /** Stops following and lets go of the stream. */
  stop(): Promise<void>;
}

const NONE: CreateProgressFollower = { describe: () => null, stop: () => Promise.resolve() };

/**
 * Opens the event stream and follows the progress of the next create in `repositoryId`; resolves
 * once the stream is open (so no event of a create sent after it is missed). A stream that cannot
 * be opened gives a follower that never describes anything: the create goes on without it.
 */
export async function followCreateProgress(api: ApiClient, repositoryId: string): Promise<CreateProgressFollower> {
  const abort = new AbortController();
  let response: { status: number; body: ReadableStream<Uint8Array> | null };
  try {
    response = await api.v1.events.$get({ header: {}, query: {} }, { init: { signal: abort.signal } });
  } catch {
    return NONE;
  }
  if (response.status !== 200 || response.body === null) {
    await response.body?.cancel().catch(() => {});
    return NONE;
  }
  let sessionId: string | null = null;
  let current: CreateProgress | null = null;
  const reading = (async () => {
    try {
      for await (const frame of readServerSentEvents(response.body!)) {
        if (frame.event !== "session.progress") continue;
        const event = JSON.parse(frame.data) as CreateProgress & { sessionId?: string; repositoryId?: string };
        if (event.repositoryId !== repositoryId) continue;
        if (sessionId === null) {
          if (event.phase !== "plan" || typeof event.sessionId !== "string") continue;
          sessionId = event.sessionId;
        } else if (event.sessionId !== sessionId) continue;
        current = event;
      }
    } catch {
      // Aborted, or the stream broke: the line keeps its last words.
    }
  })();
  return {
    describe: () => current === null ? null : describeProgress(current),
    async stop() {
      abort.abort();
      await reading;
    },
  };
}
