import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  apiUrl,
  payloadField,
  readEventPayload,
  runUrl,
  serverUrl
} from '../../../src/core/context.js'

describe('the run context', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-context-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string): string => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }

  it('reads the event payload, and takes anything unreadable as an empty one', () => {
    const good = file('push.json', '{"after":"abc","head_commit":{"id":"abc"}}')
    expect(readEventPayload({ GITHUB_EVENT_PATH: good })).toEqual({
      after: 'abc',
      head_commit: { id: 'abc' }
    })
    expect(readEventPayload({})).toEqual({})
    expect(readEventPayload({ GITHUB_EVENT_PATH: join(dir, 'missing.json') })).toEqual({})
    expect(readEventPayload({ GITHUB_EVENT_PATH: file('bad.json', '{not json') })).toEqual({})
    expect(readEventPayload({ GITHUB_EVENT_PATH: file('list.json', '[1]') })).toEqual({})
    expect(readEventPayload({ GITHUB_EVENT_PATH: file('null.json', 'null') })).toEqual({})
  })

  it('payloadField walks nested keys and stops at anything not an object', () => {
    const ev = { pull_request: { head: { sha: 'h' } }, n: null }
    expect(payloadField(ev, 'pull_request', 'head', 'sha')).toBe('h')
    expect(payloadField(ev, 'pull_request', 'base', 'ref')).toBeUndefined()
    expect(payloadField(ev, 'n', 'x')).toBeUndefined()
    expect(payloadField(undefined, 'x')).toBeUndefined()
  })

  it.each([
    [{}, 'https://github.com', 'https://api.github.com', undefined],
    [
      { GITHUB_SERVER_URL: '', GITHUB_API_URL: '' },
      'https://github.com',
      'https://api.github.com',
      undefined
    ],
    [
      {
        GITHUB_SERVER_URL: 'https://ghes.example/',
        GITHUB_API_URL: 'https://ghes.example/api/v3/',
        GITHUB_REPOSITORY: 'acme/shop',
        GITHUB_RUN_ID: '42'
      },
      'https://ghes.example',
      'https://ghes.example/api/v3',
      'https://ghes.example/acme/shop/actions/runs/42'
    ],
    [{ GITHUB_REPOSITORY: 'acme/shop' }, 'https://github.com', 'https://api.github.com', undefined]
  ])('%j: server %s, API %s, run %s', (env, server, api, run) => {
    expect(serverUrl(env)).toBe(server)
    expect(apiUrl(env)).toBe(api)
    expect(runUrl(env)).toBe(run)
  })
})
