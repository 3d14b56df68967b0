/**
 * The reliability suites' own helpers: the leak table counts what the scan finds (so a
 * zero in the report means something), channel families, snapshots and the sink.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../../support/canary.js'
import {
  channelFamily,
  emptyDir,
  leakTable,
  removeTempDirs,
  snapshot,
  startSink
} from '../../support/reliability-env.js'

afterAll(() => removeTempDirs())

describe('channelFamily', () => {
  it.each([
    ['main.stdout', 'stdout'],
    ['post.GITHUB_STATE', 'GITHUB_STATE'],
    ['main.process[12].argv', 'child argv'],
    ['post.process[0].environ', 'child environ'],
    ['file:/tmp/x/runner-temp/auth.json', 'RUNNER_TEMP files'],
    ['workspace:/tmp/ws/a', 'workspace files'],
    ['remote:git log -p --all', 'pushed commits'],
    ['server:3 POST /api/v1/applications/x/sync', 'server bodies'],
    ['server:remote file app/current/x', 'remote host files'],
    ['server:ps argv (whole machine)', 'machine-wide ps argv']
  ])('%s → %s', (channel, family) => {
    expect(channelFamily(channel)).toBe(family)
  })
})

describe('leakTable', () => {
  it('counts a planted double-base64 leak in its cell and zeros elsewhere', () => {
    const secret = canary('UNIT')
    const dbl = Buffer.from(Buffer.from(secret).toString('base64')).toString('base64')
    const channels = { 'main.stdout': `x ${dbl} y`, 'main.summary': 'clean' }
    const leaks = findLeaks(channels, [{ value: secret }])
    expect(leaks).toEqual([{ channel: 'main.stdout', encoding: 'double-base64' }])
    const table = leakTable([
      { action: 'demo', scenario: 's', families: new Set(['stdout', 'summary']), leaks }
    ])
    expect(table).toContain('| demo | stdout | 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 |')
    expect(table).toContain('| demo | summary | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |')
  })
})

describe('snapshot', () => {
  it('sees new files and changed content, ignores git objects and promisor settings', () => {
    const dir = emptyDir()
    mkdirSync(join(dir, '.git', 'objects'), { recursive: true })
    writeFileSync(join(dir, '.git', 'config'), '[core]\n\tbare = false\n')
    writeFileSync(join(dir, 'a'), '1')
    const before = snapshot(dir)
    writeFileSync(join(dir, '.git', 'objects', 'pack'), 'x')
    writeFileSync(join(dir, '.git', 'config'), '[core]\n\tbare = false\n\tpromisor = true\n')
    expect(snapshot(dir)).toEqual(before)
    writeFileSync(join(dir, 'a'), '2')
    expect(snapshot(dir)).not.toEqual(before)
    writeFileSync(join(dir, 'b'), '')
    expect(Object.keys(snapshot(dir))).toContain('b')
  })
})

describe('startSink', () => {
  it('counts connections', async () => {
    const sink = await startSink()
    try {
      await new Promise<void>(resolve => {
        const s = connect(sink.port, '127.0.0.1')
        s.on('close', () => resolve())
        s.on('error', () => resolve())
      })
      expect(sink.connections()).toBe(1)
    } finally {
      await sink.close()
    }
  })
})
