import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpClient } from '../../../src/core/http/client.js'
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.js'

describe('fault proxy', () => {
  let upstream: http.Server
  let proxy: FaultProxy
  const client = new HttpClient({ retries: 3, backoffMs: 5, maxBackoffMs: 50, timeoutMs: 2000 })

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        res.write('{"n":1}\n')
        setTimeout(() => res.end('{"n":2}\n'), 300)
        return
      }
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`hello ${req.url}`)
    })
    await new Promise<void>(r => upstream.listen(0, '127.0.0.1', r))
    proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`)
  })
  afterAll(async () => {
    await proxy.close()
    await client.close()
    await new Promise(r => upstream.close(r))
  })

  it('forwards requests untouched without rules', async () => {
    proxy.setRules([])
    const res = await client.request(`${proxy.url}/a`)
    expect(res.status).toBe(200)
    expect(res.text()).toBe('hello /a')
  })

  it('injects 429 with Retry-After and 503 a given number of times, then forwards', async () => {
    proxy.setRules([
      { times: 1, fault: { kind: 'status', status: 429, retryAfter: '0' } },
      { times: 1, fault: { kind: 'status', status: 503 } }
    ])
    const before = proxy.seen.length
    const res = await client.request(`${proxy.url}/b`)
    expect(res.status).toBe(200)
    expect(proxy.seen.slice(before).map(s => s.status)).toEqual([429, 503, 200])
  })

  it('drops connections and the client retries', async () => {
    proxy.setRules([{ times: 2, fault: { kind: 'drop' } }])
    const res = await client.request(`${proxy.url}/c`)
    expect(res.text()).toBe('hello /c')
  })

  it('truncates bodies', async () => {
    proxy.setRules([{ fault: { kind: 'truncate', bytes: 3 } }])
    await expect(new HttpClient({ retries: 0 }).request(`${proxy.url}/d`)).rejects.toThrow()
  })

  it('buffers a stream until it ends', async () => {
    proxy.setRules([{ match: r => r.url === '/stream', fault: { kind: 'buffer' } }])
    const started = Date.now()
    const stream = await client.stream(`${proxy.url}/stream`)
    const first = await stream.body[Symbol.asyncIterator]().next()
    // The first event arrives only with the whole body, after the upstream ended.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(String(first.value)).toContain('{"n":2}')
    stream.close()
  })
})
