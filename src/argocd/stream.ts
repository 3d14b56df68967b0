/**
 * Decoding of Argo CD's watch stream: newline-delimited JSON (the default) or
 * Server-Sent Events (with `Accept: text/event-stream`: `data:` lines, a blank line
 * per event, `:` comment lines as keep-alives). Incremental and pure: feed it text,
 * get frames back.
 */
import type { Application } from './application.js'

/** One decoded frame of the stream. */
export type StreamFrame =
  | { kind: 'event'; type: string; application: Application }
  | { kind: 'error'; code?: number; httpCode?: number; message: string }
  | { kind: 'keepalive' }
  | { kind: 'invalid'; text: string }

function frameOf(text: string): StreamFrame {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'invalid', text: text.slice(0, 200) }
  }
  const obj = value as {
    result?: { type?: string; application?: Application }
    error?: { grpc_code?: number; code?: number; http_code?: number; message?: string }
  }
  if (obj?.result?.application?.metadata) {
    return {
      kind: 'event',
      type: obj.result.type ?? 'MODIFIED',
      application: obj.result.application
    }
  }
  if (obj?.error) {
    return {
      kind: 'error',
      code: obj.error.grpc_code ?? obj.error.code,
      httpCode: obj.error.http_code,
      message: obj.error.message ?? 'stream error'
    }
  }
  return { kind: 'invalid', text: text.slice(0, 200) }
}

/** An incremental decoder for NDJSON and SSE framing (detected per line). */
export class StreamDecoder {
  private buffer = ''
  private data: string[] = []

  /** Feed a chunk; returns the complete frames it finished. */
  push(chunk: string): StreamFrame[] {
    this.buffer += chunk
    const frames: StreamFrame[] = []
    let at = this.buffer.indexOf('\n')
    while (at >= 0) {
      const line = this.buffer.slice(0, at).replace(/\r$/, '')
      this.buffer = this.buffer.slice(at + 1)
      this.line(line, frames)
      at = this.buffer.indexOf('\n')
    }
    return frames
  }

  /** Flush at the end of the stream (a last line without a newline). */
  end(): StreamFrame[] {
    const frames: StreamFrame[] = []
    if (this.buffer !== '') this.line(this.buffer, frames)
    this.buffer = ''
    this.line('', frames)
    return frames
  }

  private line(line: string, frames: StreamFrame[]): void {
    if (line === '') {
      if (this.data.length > 0) frames.push(frameOf(this.data.join('\n')))
      this.data = []
      return
    }
    if (line.startsWith(':')) {
      frames.push({ kind: 'keepalive' })
      return
    }
    if (line.startsWith('data:')) {
      this.data.push(line.slice(5).replace(/^ /, ''))
      return
    }
    if (/^(event|id|retry):/.test(line)) return
    if (line.trim() === '') return
    frames.push(frameOf(line))
  }
}
