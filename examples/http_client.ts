// The typed HTTP client against a running server (`deno task serve`), found without a port or a token
// handed over: the server keeps <data dir>/server.json while it runs (its URL and where its token is).
//   deno run -A examples/http_client.ts [URL [TOKEN_FILE]]     (or: bun examples/http_client.ts …)
// With no arguments it finds the server of the default data directory; URL (and TOKEN_FILE, default
// <default data dir>/token) name another one. The client is typed by the server's routes: a wrong
// field or path is a compile error, not a 400 at run time.
import process from "node:process";
import { hc } from "hono/client";
import type { AppType } from "../src/http/mod.ts"; // the "./hono" export
import { CliError, findServer, type ServerEndpoint } from "../src/cli/mod.ts"; // the "./cli" export

let server: ServerEndpoint;
try {
  server = await findServer({ url: process.argv[2], tokenFile: process.argv[3] });
} catch (error) {
  // No server running (or a stale server.json a killed one left): say how to start one, no stack trace.
  if (!(error instanceof CliError)) throw error;
  console.error(`${error.message}; start a server with "deno task serve", then run this again`);
  process.exit(1);
}
// baseUrl and fetch also reach a server that listens on a Unix domain socket (--socket).
const client = hc<AppType>(server.baseUrl, { headers: server.headers, fetch: server.fetch });
console.log(`server: ${server.url}`);

const health = await client.v1.health.$get();
if (health.status !== 200) throw new Error(`health: ${health.status}`);
console.log("health:", (await health.json()).status);

const createdRepository = await client.v1.repositories.$post({
  json: { path: `/src/example-${crypto.randomUUID()}`, name: "example" },
});
if (createdRepository.status !== 201) throw new Error(`creating a repository: ${createdRepository.status}`);
const repository = await createdRepository.json();

const createdSession = await client.v1.sessions.$post({
  json: { repositoryId: repository.id, title: "Try the typed client", isWorktree: false },
});
if (createdSession.status !== 201) throw new Error(`creating a session: ${createdSession.status}`);
const session = await createdSession.json();
console.log(`created session ${session.id} (${session.status})`);

const secret = await client.v1.sessions[":id"].secret.$get({ param: { id: session.id } });
if (secret.status === 200) console.log("secret bytes:", atob((await secret.json()).secret).length);

const listed = await client.v1.sessions.$get({ query: { repositoryId: repository.id } });
if (listed.status === 200) console.log("sessions in repository:", (await listed.json()).sessions.length);

const deleted = await client.v1.sessions[":id"].$delete({ param: { id: session.id }, query: {} });
if (deleted.status === 200) console.log(`deleted session ${(await deleted.json()).id}`);
const again = await client.v1.sessions[":id"].$delete({ param: { id: session.id }, query: {} });
if (again.status === 404) console.log("deleting again:", (await again.json()).error.kind);

const removed = await client.v1.repositories[":id"].$delete({ param: { id: repository.id } });
console.log("repository removed:", removed.status === 200);
