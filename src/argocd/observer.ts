/**
 * Observing one Argo CD application: the watch stream (NDJSON or SSE), reconnecting
 * after drops and error chunks, a safety GET when the stream stays quiet (and a
 * reconnect when that GET shows a change the stream did not send), and a fallback to
 * polling when a proxy buffers or keeps breaking the stream.
 */
import type { AppScope, ArgoClient } from './client.js'
import type { Application } from './application.js'
import { StreamDecoder } from './stream.js'
import { ConfigurationError, errorMessage } from '../core/errors.js'
import { isDeadlineError } from '../core/http/request.js'
import type { Logger } from '../core/logger.js'
import { backoffDelay, sleep } from '../core/retry.js'

/** How to observe. */
export interface ObserveSettings {
  scope: AppScope
  watch: 'stream' | 'poll'
  pollIntervalMs: number
  /** Ask for SSE framing instead of NDJSON. */
  sse?: boolean
  /** A GET while streaming after this long without events (default 30 s). */
  safetyPollMs?: number
}

/** How long the stream may stay silent at first before we call it buffered. */
export function firstEventWaitMs(pollIntervalMs: number): number {
  return Math.max(1000, Math.min(10_000, Math.round(pollIntervalMs * 2.5)))
}

/** Returns true when the observed app is in the state waited for. */
export type Stop = (app: Application) => boolean

/** Watches one app and calls `stop` with each new state until it returns true. */
export class Observer {
  mode: 'stream' | 'poll'
  private warned = false

  constructor(
    private readonly client: ArgoClient,
    private readonly name: string,
    private readonly s: ObserveSettings,
    private readonly log: Logger
  ) {
    this.mode = s.watch
  }

  /** Observe until `stop` returns true (returns the last app) or the deadline (undefined). */
  async until(stop: Stop, deadline: number): Promise<Application | undefined> {
    let failures = 0
    while (Date.now() < deadline) {
      if (this.mode === 'poll') return this.poll(stop, deadline)
      const outcome = await this.streamOnce(stop, deadline)
      if (outcome.kind === 'done') return outcome.app
      if (outcome.kind === 'deadline') return undefined
      if (outcome.kind === 'silent') {
        this.fallback(
          `the watch stream sent nothing within ${firstEventWaitMs(this.s.pollIntervalMs)}ms (a proxy buffering it?)`
        )
        continue
      }
      failures = outcome.gotEvents ? 1 : failures + 1
      if (failures >= 4) {
        this.fallback(`the watch stream failed ${failures} times in a row (${outcome.why})`)
        continue
      }
      this.log.info(`[${this.name}] watch stream ${outcome.why}; reconnecting`)
      await sleep(backoffDelay(failures, { baseMs: 100, capMs: 2000, jitter: [1, 1] }))
    }
    return undefined
  }

  private fallback(why: string): void {
    this.mode = 'poll'
    if (!this.warned) {
      this.warned = true
      this.log.warning(
        `[${this.name}] ${why}; falling back to polling every ${this.s.pollIntervalMs}ms`
      )
    }
  }

  private async poll(stop: Stop, deadline: number): Promise<Application | undefined> {
    for (;;) {
      let app: Application
      try {
        app = await this.client.get(this.name, this.s.scope)
      } catch (error) {
        if (isDeadlineError(error)) return undefined
        throw error
      }
      if (stop(app)) return app
      const wait = Math.min(this.s.pollIntervalMs, deadline - Date.now())
      if (wait <= 0) return undefined
      await sleep(wait)
    }
  }

  private async streamOnce(
    stop: Stop,
    deadline: number
  ): Promise<
    | { kind: 'done'; app: Application }
    | { kind: 'deadline' }
    | { kind: 'silent' }
    | { kind: 'broken'; why: string; gotEvents: boolean }
  > {
    const firstWait = firstEventWaitMs(this.s.pollIntervalMs)
    const opened = Date.now()
    let stream
    try {
      stream = await this.client.watch(this.name, this.s.scope, {
        sse: this.s.sse,
        openTimeoutMs: Math.min(firstWait, Math.max(1, deadline - Date.now()))
      })
    } catch (error) {
      if (error instanceof ConfigurationError) throw error
      if (Date.now() >= deadline || isDeadlineError(error)) return { kind: 'deadline' }
      if (Date.now() - opened >= firstWait * 0.9) return { kind: 'silent' }
      return { kind: 'broken', why: errorMessage(error), gotEvents: false }
    }
    let gotEvent = false
    let ended: 'deadline' | 'silent' | undefined
    const decoder = new StreamDecoder()
    const silentTimer = setTimeout(
      () => {
        ended = 'silent'
        stream.close()
      },
      Math.max(0, firstWait - (Date.now() - opened))
    )
    const deadlineTimer = setTimeout(() => {
      ended = 'deadline'
      stream.close()
    }, deadline - Date.now())
    // Re-decide on a timer too: Degraded turns into a failure after the grace
    // period without any new event, and a quiet stream gets a safety GET.
    let found: Application | undefined
    let lastApp: Application | undefined
    const tick = setInterval(
      () => {
        if (lastApp && !found && stop(lastApp)) {
          found = lastApp
          stream.close()
        }
      },
      Math.min(1000, this.s.pollIntervalMs)
    )
    let safety: NodeJS.Timeout | undefined
    let frozen = false
    const armSafety = (ms = this.s.safetyPollMs ?? 30_000): void => {
      if (safety) clearTimeout(safety)
      safety = setTimeout(() => {
        this.client.get(this.name, this.s.scope).then(
          app => {
            const streamed = lastApp?.metadata.resourceVersion
            const stale = streamed !== undefined && app.metadata.resourceVersion !== streamed
            lastApp = app
            if (!found && stop(app)) {
              found = app
              stream.close()
            } else if (stale) {
              // The app changed but the stream did not say so: it is dead without
              // having closed (a NAT or proxy dropped it). Reconnect.
              frozen = true
              stream.close()
            } else armSafety()
          },
          // A failed look is tried again soon, not after another quiet period.
          () => armSafety(this.s.pollIntervalMs)
        )
      }, ms)
    }
    armSafety()
    try {
      for await (const chunk of stream.body) {
        for (const frame of decoder.push(chunk.toString('utf8'))) {
          if (frame.kind === 'event') {
            if (!gotEvent) {
              gotEvent = true
              clearTimeout(silentTimer)
            }
            armSafety()
            lastApp = frame.application
            if (stop(frame.application)) return { kind: 'done', app: frame.application }
          } else if (frame.kind === 'error') {
            return { kind: 'broken', why: `sent an error: ${frame.message}`, gotEvents: gotEvent }
          }
        }
      }
      if (found) return { kind: 'done', app: found }
      return { kind: 'broken', why: 'ended', gotEvents: gotEvent }
    } catch (error) {
      if (found) return { kind: 'done', app: found }
      if (ended === 'deadline') return { kind: 'deadline' }
      if (ended === 'silent') return { kind: 'silent' }
      if (frozen) {
        return { kind: 'broken', why: 'fell silent while the app changed', gotEvents: gotEvent }
      }
      return { kind: 'broken', why: `dropped (${errorMessage(error)})`, gotEvents: gotEvent }
    } finally {
      clearInterval(tick)
      clearTimeout(silentTimer)
      clearTimeout(deadlineTimer)
      if (safety) clearTimeout(safety)
      stream.close()
    }
  }
}
