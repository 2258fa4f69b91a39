// tools/pglite/server.mjs: a real PostgreSQL server for the postgres
// provider's specs and bench. PGlite (Postgres compiled to WASM) with the
// pgvector extension, served over the Postgres wire protocol by
// pglite-socket on 127.0.0.1. PGlite runs one query at a time; with the
// default of one connection a second client waits in the server's queue.
//
// usage: node server.mjs --port N [--data DIR] [--max-connections N] [--watch-pid PID]
// Prints "pglite: ready on 127.0.0.1:<port>" once it accepts connections.
// --data persists the database in DIR (a restart on the same DIR keeps every
// committed row); without it the database lives in memory. SIGTERM/SIGINT
// stop the server and close the database cleanly; with --watch-pid it also
// exits once process PID (the test run that started it) is gone, so a
// crashed test run leaves no server behind.
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'

// pglite-socket dispatches CustomEvent, a global only from Node 19; Debian 12
// ships Node 18. The polyfill must exist before that module loads, hence the
// dynamic import below.
if (typeof globalThis.CustomEvent !== 'function') {
  globalThis.CustomEvent = class CustomEvent extends Event {
    constructor(type, init = {}) {
      super(type, init)
      this.detail = init.detail === undefined ? null : init.detail
    }
  }
}
const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')

function parseArgs(argv) {
  const o = { port: 0, data: undefined, maxConnections: 1, watchPid: 0 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--port') o.port = Number(argv[++i])
    else if (a === '--data') o.data = argv[++i]
    else if (a === '--max-connections') o.maxConnections = Number(argv[++i])
    else if (a === '--watch-pid') o.watchPid = Number(argv[++i])
    else { console.error(`pglite: unknown argument '${a}'`); process.exit(2) }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    console.error('pglite: --port must be an integer in 0..65535'); process.exit(2)
  }
  return o
}

const opts = parseArgs(process.argv.slice(2))
const db = await PGlite.create(opts.data, { extensions: { vector } })
await db.exec('CREATE EXTENSION IF NOT EXISTS vector')
const server = new PGLiteSocketServer({
  db, host: '127.0.0.1', port: opts.port, maxConnections: opts.maxConnections,
})

let stopping = false
async function stop(code) {
  if (stopping) return
  stopping = true
  try { await server.stop() } catch (e) { /* already closed */ }
  try { await db.close() } catch (e) { /* already closed */ }
  process.exit(code)
}
process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
if (opts.watchPid > 0) {
  setInterval(() => {
    try { process.kill(opts.watchPid, 0) } catch (e) { stop(0) }
  }, 1000).unref()
}

try {
  await server.start()
} catch (e) {
  console.error(`pglite: cannot listen on 127.0.0.1:${opts.port}: ${e.message}`)
  await db.close()
  process.exit(1)
}
const conn = server.getServerConn()
console.log(`pglite: ready on ${conn}`)
