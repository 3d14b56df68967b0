import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StreamDecoder } from '../../../src/argocd/stream.js'
import { matchesSelector, parseSelector, selectApplications } from '../../../src/argocd/select.js'
import type { Application } from '../../../src/argocd/application.js'

const REF = join(import.meta.dirname, '..', '..', 'fixtures', 'argocd', 'reference')

describe('StreamDecoder', () => {
  it('decodes the captured NDJSON stream, split at every byte boundary', () => {
    const wire = readFileSync(join(REF, 'captured_stream-applications-myapp.ndjson'), 'utf8')
    for (const size of [1, 7, 100, 4096, wire.length]) {
      const d = new StreamDecoder()
      const frames = []
      for (let i = 0; i < wire.length; i += size) frames.push(...d.push(wire.slice(i, i + size)))
      frames.push(...d.end())
      expect(frames.map(f => (f.kind === 'event' ? f.type : f.kind))).toEqual(['ADDED', 'MODIFIED'])
    }
  })

  it('decodes SSE framing with keep-alive comments and CRLF', () => {
    const d = new StreamDecoder()
    const event = JSON.stringify({
      result: { type: 'ADDED', application: { metadata: { name: 'a' } } }
    })
    const frames = d.push(`: keep-alive\r\n\r\nevent: message\r\ndata: ${event}\r\n\r\n: ka\n\n`)
    expect(frames.map(f => f.kind)).toEqual(['keepalive', 'event', 'keepalive'])
  })

  it('reports a mid-stream error chunk and garbage', () => {
    const d = new StreamDecoder()
    const frames = d.push(
      '{"error":{"grpc_code":14,"http_code":503,"message":"transport is closing"}}\nnot json\n'
    )
    expect(frames[0]).toEqual({
      kind: 'error',
      code: 14,
      httpCode: 503,
      message: 'transport is closing'
    })
    expect(frames[1]!.kind).toBe('invalid')
  })
})

describe('application selection', () => {
  const apps = ['frontend', 'cart', 'checkout', 'payments', 'cart-worker'].map(
    n =>
      ({
        metadata: { name: n, labels: { team: n.startsWith('c') ? 'shop' : 'web', tier: n } }
      }) as Application
  )
  it.each([
    [['cart'], ['cart'], []],
    [['c*'], ['cart', 'cart-worker', 'checkout'], []],
    [['cart*', 'payments', 'nope'], ['cart', 'cart-worker', 'payments'], ['nope']],
    [['{frontend,payments}'], ['frontend', 'payments'], []],
    [[], ['cart', 'cart-worker', 'checkout', 'frontend', 'payments'], []]
  ])('%j selects %j', (patterns, names, unmatched) => {
    expect(selectApplications(apps, patterns)).toEqual({ names, unmatched })
  })

  it.each([
    ['team=shop', ['cart', 'checkout', 'cart-worker']],
    ['team!=shop', ['frontend', 'payments']],
    ['tier in (cart, payments)', ['cart', 'payments']],
    ['team=shop,tier notin (cart)', ['checkout', 'cart-worker']],
    ['team', ['frontend', 'cart', 'checkout', 'payments', 'cart-worker']],
    ['!team', []]
  ])('selector %s', (selector, names) => {
    const req = parseSelector(selector)!
    expect(
      apps.filter(a => matchesSelector(a.metadata.labels, req)).map(a => a.metadata.name)
    ).toEqual(names)
  })

  it.each(['a=b,', '=b', 'a in b', 'a b'])('rejects the selector %j', s => {
    expect(parseSelector(s)).toBeUndefined()
  })
})
