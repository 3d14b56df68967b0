/**
 * The pure parts of an SSH deploy run: how a host is named in the log and the
 * summary, and which error the step fails with when hosts were not deployed.
 */
import { describe, expect, it } from 'vitest'
import type { HostResult } from '../../../../src/deploy/ssh/deploy-host.js'
import { failureOf, hostLabel } from '../../../../src/deploy/ssh/run.js'

function host(name: string, status: HostResult['status'], error?: string): HostResult {
  return {
    host: name,
    port: 22,
    status,
    release: 'R1',
    files: 1,
    bytes: 1,
    pruned: [],
    durationMs: 0,
    ...(error !== undefined ? { error } : {})
  }
}

describe('failureOf', () => {
  it.each([
    ['every host deployed', [host('a', 'deployed'), host('b', 'deployed')], undefined],
    [
      'names the first real failure, not a host it cancelled',
      [host('a', 'cancelled', 'aborted'), host('b', 'failed', 'script exited 3')],
      '2 of 2 host(s) not deployed; b:22 failed: script exited 3'
    ],
    [
      'a rolled-back host is a failure',
      [host('a', 'deployed'), host('b', 'rolled-back', 'switch failed')],
      '1 of 2 host(s) not deployed; b:22 rolled-back: switch failed'
    ],
    [
      'only skipped and cancelled: the first of them',
      [host('a', 'skipped', 'fail-fast'), host('b', 'cancelled')],
      '2 of 2 host(s) not deployed; a:22 skipped: fail-fast'
    ],
    [
      'an IPv6 host in brackets, an empty error',
      [host('::1', 'failed')],
      '1 of 1 host(s) not deployed; [::1]:22 failed: '
    ]
  ])('%s', (_, results, message) => {
    expect(failureOf(results)?.message).toBe(message)
  })

  it('labels hosts as host:port and [v6]:port', () => {
    expect(hostLabel({ host: 'example.com', port: 2222 })).toBe('example.com:2222')
    expect(hostLabel({ host: 'fe80::1', port: 22 })).toBe('[fe80::1]:22')
  })
})
