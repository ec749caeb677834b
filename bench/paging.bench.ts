// Paging at scale (issue 13): a page of 100 from 1M sessions through the orchestrator
// (`listSessions({ limit: 100, cursor })` over the store `openSqliteStore` opens) against the raw keyset
// query on the same connection and file:
//   SELECT … FROM sessions WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT 100
// Both sides read pages that start at the same random positions, each position once, so neither finds
// the other's pages in SQLite's page cache, and both read rows the same way (arrays where the driver
// has `setReturnArrays`, as the store does). The 1M rows go in with raw SQL in one transaction.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionOrchestrator } from "../mod.ts";
import { encodeCursor } from "../src/_cursor.ts";
import { openSqliteStore } from "../src/platform/sqlite.ts";
import { SQL } from "../src/store/sqlite_store.ts";
import { compare, type Comparison } from "./harness.ts";
import { prefillSessions } from "./prefill.ts";
import { listReader } from "./rows.ts";

/** Runs the paging comparison on `sessions` sessions; `log` hears how long the pre-fill took. */
export async function benchPaging(sessions = 1_000_000, log: (line: string) => void = () => {}): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-paging-"));
  try {
    const store = openSqliteStore(join(dir, "bench.db"));
    const database = store.database;
    const { ms } = prefillSessions(database, { sessions });
    log(`paging: ${sessions} sessions inserted in ${(ms / 1000).toFixed(1)} s`);
    const orchestrator = new SessionOrchestrator({ store });
    const count = 300;
    const rounds = 7;

    // The positions pages start after: rows picked at random (each once), as a cursor names them.
    const byRowid = database.prepare("SELECT created_at, id FROM sessions WHERE rowid = ?");
    const positions: { createdAt: string; id: string }[] = [];
    const picked = new Set<number>();
    while (positions.length < count * (rounds + 1) * 2) {
      const rowid = 1 + Math.floor(Math.random() * (sessions - 200));
      if (picked.has(rowid)) continue;
      picked.add(rowid);
      const row = byRowid.get(rowid) as { created_at: string; id: string };
      positions.push({ createdAt: row.created_at, id: row.id });
    }
    const cursors = positions.map(encodeCursor);

    // Read as the store reads its list pages: arrays under Deno (node:sqlite's `setReturnArrays`), the
    // driver's row objects under Bun. The mapping of those arrays to objects is the store's own work.
    const keyset = listReader(
      database,
      SQL.listSessions.replace(" ORDER BY", " WHERE (created_at, id) > (?, ?) ORDER BY") + " LIMIT 100",
    );
    let sink = 0;
    const result = await compare(
      `a page of 100 from ${sessions / 1e6}M sessions: listSessions({ limit: 100, cursor }) vs raw keyset query`,
      {
        baseline: (i) => {
          const rows = keyset.all(positions[i].createdAt, positions[i].id);
          if (rows.length !== 100) throw new Error(`a page of ${rows.length}`);
          sink += rows.length;
        },
        subject: async (i) => {
          const page = await orchestrator.listSessions({ limit: 100, cursor: cursors[i] });
          if (page.sessions.length !== 100 || page.nextCursor === null) throw new Error("a short page");
          sink += page.sessions.length;
        },
        count,
        rounds,
        target: 0.5,
      },
    );
    store.close();
    if (sink === -1) console.log(sink);
    return [result];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { report } = await import("./harness.ts");
  report(await benchPaging(Number(process.argv[2] ?? 1_000_000), console.log));
}
