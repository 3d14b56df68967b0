/**
 * The watch stream of the Argo CD simulator (`GET /api/v1/stream/applications`):
 * newline-delimited JSON by default, Server-Sent Events with keep-alive comments
 * when the client asks for `text/event-stream`, nothing at all for an unknown app,
 * an ADDED event per matching app first, then MODIFIED events; scripted faults drop
 * the connection, send an error chunk, or freeze it.
 */
import type http from 'node:http'
import type { AppState } from './argocd-sim-app.js'

/** Faults of the first watch streams, in order (see `SimOptions.streamFaults`). */
export interface StreamFaults {
  afterEvents: number
  kinds: ('drop' | 'error' | 'freeze')[]
}

/** Serve one watch stream to the apps it matches. */
export function serveStream(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  targets: AppState[],
  options: { index: number; faults?: StreamFaults; keepAliveMs?: number }
): void {
  const sse = (req.headers.accept ?? '').includes('text/event-stream')
  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/json',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff'
  })
  res.flushHeaders()
  let sent = 0
  const faultKind = options.faults?.kinds[options.index]
  const after = options.faults?.afterEvents ?? 0
  const drop = faultKind === 'drop' ? after : undefined
  const errorAfter = faultKind === 'error' ? after : undefined
  const freezeAfter = faultKind === 'freeze' ? after : undefined
  const cleanup: (() => void)[] = []
  const write = (text: string, then?: () => void): void => {
    if (res.writableEnded || res.destroyed) return
    res.write(sse ? `data: ${text}\n\n` : `${text}\n`, then)
  }
  const done = (): void => {
    for (const c of cleanup.splice(0)) c()
  }
  const onEvent =
    (st: AppState) =>
    (type: string): void => {
      if (freezeAfter !== undefined && sent >= freezeAfter) return
      sent++
      const dropNow = drop !== undefined && sent >= drop && errorAfter === undefined
      // A server-side drop: the event goes out, then the connection is cut.
      write(
        JSON.stringify({ result: { type, application: st.obj } }),
        dropNow ? () => res.socket?.destroy() : undefined
      )
      if (errorAfter !== undefined && sent >= errorAfter) {
        write(
          JSON.stringify({
            error: {
              grpc_code: 14,
              http_code: 503,
              message: 'transport is closing',
              http_status: 'Service Unavailable'
            }
          })
        )
        res.end()
        done()
      } else if (dropNow) {
        done()
      }
    }
  for (const st of targets) {
    const w = onEvent(st)
    st.watchers.add(w)
    cleanup.push(() => st.watchers.delete(w))
  }
  if (sse) {
    const t = setInterval(() => {
      if (!res.writableEnded) res.write(': keep-alive\n\n')
    }, options.keepAliveMs ?? 1000)
    cleanup.push(() => clearInterval(t))
  }
  res.on('close', done)
  // The initial state of every matching app.
  for (const st of targets) onEvent(st)('ADDED')
}
