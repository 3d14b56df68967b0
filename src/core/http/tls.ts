/**
 * TLS connections of the HTTP client: the handshake errors that mean "the private CA
 * alone did not verify this chain", and the HTTP/2-capable connector (ALPN), which can
 * open an origin's first connection ahead of its first request.
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { buildConnector, Client, type Dispatcher } from 'undici'

/** What a TLS handshake reports when the server's chain ends at no trusted certificate. */
export const UNVERIFIED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED'
])

/** Requests sent at once over one HTTP/2 connection (a server may allow fewer). */
const H2_STREAMS = 100

/** Connections of an HTTP/2-capable agent, which can open one ahead of its first request. */
export interface Multiplexed {
  factory: (origin: URL | string, options: object) => Dispatcher
  /** Start connecting to `url`'s origin now; its first request takes the connection. */
  open(url: URL): void
  /** Close a connection opened ahead and never taken. */
  dispose(): void
}

type Opened = { error: Error | null; socket: Socket | null }

/**
 * The dispatcher factory of an HTTP/2-capable agent: one connection per origin (a pool
 * would open more while the first is still connecting). undici sends one request at a
 * time over a connection unless told its `pipelining`, whatever the protocol, so the
 * connection says, once its TLS handshake has chosen: many streams at once over HTTP/2,
 * one request at a time over HTTP/1.1 (no HTTP/1.1 pipelining).
 *
 * A connection opened ahead (`open`) is the origin's first: its handshake runs while the
 * caller works out its first request, which then finds it ready, or its error.
 */
export function multiplexed(tls: Record<string, unknown>): Multiplexed {
  const connector = buildConnector({ ...tls, allowH2: true, timeout: 10_000 })
  const ahead = new Map<string, Promise<Opened>>()
  const sockets = new Set<Socket>()
  const key = (u: { protocol: string; host?: string }): string => `${u.protocol}//${u.host ?? ''}`
  return {
    factory: (origin, options) => {
      const client: Client = new Client(origin, {
        ...options,
        allowH2: true,
        connect: (opts, callback) => {
          const done = (error: Error | null, socket: Socket | null): void => {
            if (socket) {
              client.pipelining = (socket as TLSSocket).alpnProtocol === 'h2' ? H2_STREAMS : 1
            }
            callback(error, socket as never)
          }
          const opened = ahead.get(key(opts))
          if (!opened) return connector(opts, done)
          ahead.delete(key(opts))
          void opened.then(({ error, socket }) => {
            if (socket) sockets.delete(socket)
            // Closed by the server meanwhile (an idle timeout): a new one.
            if (socket && (socket.destroyed || !socket.writable)) connector(opts, done)
            else done(error, socket?.ref() ?? null)
          })
        }
      })
      return client
    },
    open: url => {
      if (ahead.has(key(url))) return
      const opening = new Promise<Opened>(resolve =>
        connector(
          {
            hostname: url.hostname,
            host: url.host,
            protocol: url.protocol,
            port: url.port,
            servername: undefined,
            localAddress: null
          },
          (error, socket) => {
            // Until a request takes it, the connection keeps no process alive.
            socket?.unref()
            if (socket) sockets.add(socket)
            resolve({ error, socket })
          }
        )
      )
      ahead.set(key(url), opening)
    },
    dispose: () => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      ahead.clear()
    }
  }
}
