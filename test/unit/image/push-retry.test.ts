import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildxPushError, runBuild, type BuildSpec } from '../../../src/image/backends.js'
import {
  classifyPushFailure,
  pushRetryDelay,
  withPushRetry,
  PUSH_RETRY,
  type AttemptFailure
} from '../../../src/image/push-retry.js'
import { memoryLogger } from '../../../src/core/logger.js'

const BUILDAH = (tail: string): string =>
  [
    'Getting image source signatures',
    'Copying blob sha256:97e2d86f7a45b241ebcf360f7101ac5324e2fefd3ff262d578db1c97bd709b26',
    'Writing manifest to image destination',
    `Error: pushing image "reg/app:a" to "docker://reg/app:a": writing manifest: uploading manifest a to reg/app: ${tail}`
  ].join('\n')

describe('classifyPushFailure', () => {
  it.each([
    ['buildah 429', BUILDAH('StatusCode: 429, "Too Many Requests"'), true, 'HTTP 429'],
    [
      'buildah 503',
      BUILDAH('received unexpected HTTP status: 503 Service Unavailable'),
      true,
      'HTTP 503'
    ],
    ['buildah 502', BUILDAH('StatusCode: 502, <html>'), true, 'HTTP 502'],
    [
      'docker toomanyrequests',
      'toomanyrequests: You have reached your pull rate limit.',
      true,
      'HTTP 429'
    ],
    [
      'buildx 429',
      'ERROR: failed to push reg/app:a: unexpected status from PUT request to https://reg/v2/app/manifests/a: 429 Too Many Requests',
      true,
      'HTTP 429'
    ],
    [
      'connection reset',
      'Error: writing blob: Patch "https://reg/v2/app/blobs/uploads/x": read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer',
      true,
      'connection reset by peer'
    ],
    [
      'EOF',
      'Error: writing blob: Put "https://reg/v2/x": EOF',
      true,
      'the connection closed early (EOF)'
    ],
    ['i/o timeout', 'dial tcp 10.0.0.1:443: i/o timeout', true, 'a network timeout'],
    ['buildah 401', BUILDAH('unauthorized: authentication required'), false, 'unauthorized'],
    ['buildah 403', BUILDAH('StatusCode: 403, "denied"'), false, 'StatusCode: 403'],
    ['a rejected tag', BUILDAH('tag invalid: tag is immutable'), false, 'tag invalid'],
    ['manifest invalid', 'MANIFEST_INVALID: manifest invalid', false, 'MANIFEST_INVALID'],
    ['a 401 beats a later 503', `unauthorized: x\nStatusCode: 503`, false, 'unauthorized'],
    ['TLS', 'x509: certificate signed by unknown authority', false, 'x509:'],
    ['DNS', 'dial tcp: lookup reg.example: no such host', false, 'no such host'],
    ['anything else', 'Error: no space left on device', false, 'not a transient registry error']
  ])('%s', (_name, output, transient, reason) => {
    const c = classifyPushFailure(output)
    expect(c.transient).toBe(transient)
    expect(c.reason).toBe(reason)
  })

  it('reads a Retry-After from the output', () => {
    expect(classifyPushFailure('429 Too Many Requests; Retry-After: 7').retryAfterMs).toBe(7000)
    expect(classifyPushFailure('StatusCode: 429').retryAfterMs).toBeUndefined()
  })
})

describe('pushRetryDelay', () => {
  it('doubles with jitter, honours Retry-After, stays under the cap', () => {
    expect(pushRetryDelay(PUSH_RETRY, 1, undefined, () => 0.5)).toBe(2000)
    expect(pushRetryDelay(PUSH_RETRY, 2, undefined, () => 0.5)).toBe(4000)
    expect(pushRetryDelay(PUSH_RETRY, 1, undefined, () => 0)).toBe(1500)
    expect(pushRetryDelay(PUSH_RETRY, 1, undefined, () => 1)).toBe(2500)
    expect(pushRetryDelay(PUSH_RETRY, 1, 9000, () => 0.5)).toBe(9000)
    expect(pushRetryDelay(PUSH_RETRY, 1, 600_000, () => 0.5)).toBe(30_000)
    expect(pushRetryDelay(PUSH_RETRY, 9, undefined, () => 0.5)).toBe(30_000)
  })
})

class ToolFailed extends Error {
  constructor(readonly attempt: AttemptFailure) {
    super('tool failed')
  }
}

describe('withPushRetry', () => {
  function harness(outcomes: (string | AttemptFailure)[], timeoutMs?: number) {
    const log = memoryLogger()
    const waits: number[] = []
    const remaining: (number | undefined)[] = []
    let clock = 0
    let calls = 0
    const go = () =>
      withPushRetry(
        'buildah push',
        async left => {
          remaining.push(left)
          const o = outcomes[calls++]!
          clock += 100
          if (typeof o === 'string') return o
          throw new ToolFailed(o)
        },
        {
          logger: log,
          timeoutMs,
          failure: e => (e instanceof ToolFailed ? e.attempt : undefined),
          exhausted: (_e, n, reason) => new Error(`gave up after ${n} (${reason})`),
          now: () => clock,
          sleep: async ms => {
            waits.push(ms)
            clock += ms
          },
          random: () => 0.5
        }
      )
    return { go, log, waits, remaining, calls: () => calls }
  }
  const t429 = { output: 'StatusCode: 429', timedOut: false }
  const t503 = { output: 'StatusCode: 503', timedOut: false }

  it('a transient failure, then success: retried with a logged warning', async () => {
    const h = harness([t429, 'pushed'])
    await expect(h.go()).resolves.toBe('pushed')
    expect(h.waits).toEqual([2000])
    expect(h.log.lines.filter(l => l.level === 'warning').map(l => l.message)).toEqual([
      'buildah push failed with a transient registry error (HTTP 429); retrying in 2.0s (attempt 2 of 3)'
    ])
  })

  it('a persistent transient failure: bounded attempts, then the exhausted error', async () => {
    const h = harness([t503, t503, t503, 'never'])
    await expect(h.go()).rejects.toThrow('gave up after 3 (HTTP 503)')
    expect(h.calls()).toBe(3)
    expect(h.waits).toEqual([2000, 4000])
  })

  it('a permanent failure is not retried', async () => {
    const h = harness([{ output: 'unauthorized: authentication required', timedOut: false }])
    await expect(h.go()).rejects.toThrow('tool failed')
    expect(h.calls()).toBe(1)
    expect(h.waits).toEqual([])
  })

  it('our own time limit is never retried, and the attempts share it', async () => {
    const timedOut = harness([{ output: 'StatusCode: 503', timedOut: true }], 60_000)
    await expect(timedOut.go()).rejects.toThrow('tool failed')
    expect(timedOut.calls()).toBe(1)
    const shared = harness([t503, 'ok'], 60_000)
    await shared.go()
    expect(shared.remaining).toEqual([60_000, 60_000 - 100 - 2000])
    const near = harness([t503, 'ok'], 2500)
    await expect(near.go()).rejects.toThrow(
      /gave up after 1 \(HTTP 503, and the time limit is near\)/
    )
  })

  it('an error that is not a tool failure is rethrown as it is', async () => {
    const log = memoryLogger()
    await expect(
      withPushRetry('x', () => Promise.reject(new TypeError('bug')), {
        logger: log,
        failure: () => undefined,
        exhausted: e => e
      })
    ).rejects.toThrow(TypeError)
  })
})

describe('buildxPushError', () => {
  const exportFailed = [
    '#5 [2/2] COPY a.txt /a.txt',
    '#5 DONE 0.1s',
    '#6 exporting to image',
    '#6 pushing layers 0.1s done',
    '#6 ERROR: failed to push reg/app:a: unexpected status from PUT request to https://reg/v2/app/manifests/a: 429 Too Many Requests',
    '------',
    ' > exporting to image:',
    '------',
    'ERROR: failed to solve: failed to push reg/app:a: unexpected status: 429 Too Many Requests'
  ].join('\n')
  it('an export (push) failure: its error lines', () => {
    const e = buildxPushError(exportFailed)
    expect(e).toMatch(/^ERROR: failed to push reg\/app:a/)
    expect(classifyPushFailure(e).transient).toBe(true)
  })
  it('a failing build step: nothing, even when its output reads like a registry error', () => {
    const log = [
      '#5 [2/2] RUN curl https://example.com',
      '#5 0.2 curl: (7) connection refused; StatusCode: 503',
      '#5 ERROR: process "/bin/sh -c curl https://example.com" did not complete successfully: exit code: 7',
      'ERROR: failed to solve: process "/bin/sh -c curl https://example.com" did not complete successfully: exit code: 7'
    ].join('\n')
    expect(buildxPushError(log)).toBe('')
  })
  it('without vertex lines: only a "failed to push" solve error', () => {
    expect(
      buildxPushError('ERROR: failed to solve: failed to push x: 503 Service Unavailable')
    ).toMatch(/503/)
    expect(buildxPushError('ERROR: failed to solve: dockerfile parse error')).toBe('')
  })
})

describe('runBuild retries the push, never the build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-push-retry-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const spec = (over: Partial<BuildSpec> = {}): BuildSpec => ({
    context: dir,
    dockerfile: join(dir, 'Dockerfile'),
    ref: 'reg.example/acme/app:a',
    buildArgs: [],
    labels: [],
    secrets: [],
    platforms: ['linux/amd64'],
    push: true,
    idFile: join(dir, 'id'),
    ...over
  })
  /**
   * A fake tool on PATH: each call appends its first argument to calls.txt and fails
   * with `fail` while the count of calls of that subcommand is below `failures`.
   */
  function fakeTool(name: string, script: string): NodeJS.ProcessEnv {
    const bin = mkdtempSync(join(dir, 'bin-'))
    writeFileSync(join(bin, name), `#!/bin/sh\necho "$1" >> "${bin}/calls.txt"\n${script}\n`)
    chmodSync(join(bin, name), 0o755)
    return { PATH: `${bin}:${process.env.PATH}`, CALLS: join(bin, 'calls.txt') }
  }
  const calls = (env: NodeJS.ProcessEnv): string[] =>
    readFileSync(env.CALLS!, 'utf8').trim().split('\n')
  const files = { digestFile: join(dir, 'digest'), readFile: () => undefined }
  const fast = { attempts: 3, delayMs: 1, maxDelayMs: 5 }

  it('buildah: a 429 on the push runs the push again, not bud', async () => {
    const env = fakeTool(
      'buildah',
      [
        'if [ "$1" = push ] && [ "$(grep -c push "$CALLS")" -lt 2 ]; then',
        '  echo "Error: writing manifest: uploading manifest a to reg: StatusCode: 429, " >&2; exit 125',
        'fi'
      ].join('\n')
    )
    const log = memoryLogger()
    await runBuild('buildah', spec(), { logger: log, env, pushRetry: fast }, files)
    expect(calls(env)).toEqual(['bud', 'push', 'push'])
    expect(log.lines.filter(l => l.level === 'warning')).toHaveLength(1)
  })

  it('buildah: a 401 on the push is not retried', async () => {
    const env = fakeTool(
      'buildah',
      'if [ "$1" = push ]; then echo "Error: unauthorized: authentication required" >&2; exit 125; fi'
    )
    await expect(
      runBuild('buildah', spec(), { logger: memoryLogger(), env, pushRetry: fast }, files)
    ).rejects.toThrow(/^buildah push failed \(buildah exited with code 125\)$/)
    expect(calls(env)).toEqual(['bud', 'push'])
  })

  it('buildah: a failing build with a registry error in its output is not retried', async () => {
    const env = fakeTool(
      'buildah',
      'if [ "$1" = bud ]; then echo "STEP 1/2: FROM reg/base"; echo "StatusCode: 503" >&2; exit 1; fi'
    )
    await expect(
      runBuild('buildah', spec(), { logger: memoryLogger(), env, pushRetry: fast }, files)
    ).rejects.toThrow(/^buildah bud failed/)
    expect(calls(env)).toEqual(['bud'])
  })

  it('docker: only docker push is run again', async () => {
    const env = fakeTool(
      'docker',
      [
        'if [ "$1" = push ] && [ "$(grep -c push "$CALLS")" -lt 3 ]; then',
        '  echo "received unexpected HTTP status: 502 Bad Gateway" >&2; exit 1',
        'fi',
        'if [ "$1" = push ]; then echo "a: digest: sha256:$(printf "%064d" 0) size: 1"; fi'
      ].join('\n')
    )
    const out = await runBuild(
      'docker',
      spec(),
      { logger: memoryLogger(), env, pushRetry: fast },
      files,
      true
    )
    expect(calls(env)).toEqual(['build', 'push', 'push', 'push'])
    expect(out.digest).toBe(`sha256:${'0'.repeat(64)}`)
  })

  it('buildx: the command runs again only when the export (push) step failed', async () => {
    const script = (error: string): string =>
      [
        'if [ "$(wc -l < "$CALLS")" -lt 2 ]; then',
        `  printf '%s\\n' ${error
          .split('\n')
          .map(l => `'${l}'`)
          .join(' ')} >&2; exit 1`,
        'fi'
      ].join('\n')
    const pushFailed = fakeTool(
      'docker',
      script(
        '#6 exporting to image\n#6 ERROR: failed to push reg/app:a: 503 Service Unavailable\nERROR: failed to solve: failed to push reg/app:a: 503 Service Unavailable'
      )
    )
    await runBuild(
      'buildx',
      spec(),
      { logger: memoryLogger(), env: pushFailed, pushRetry: fast },
      files
    )
    expect(calls(pushFailed)).toEqual(['buildx', 'buildx'])
    const stepFailed = fakeTool(
      'docker',
      script(
        '#5 [2/2] RUN wget x\n#5 0.1 StatusCode: 503\n#5 ERROR: process did not complete successfully: exit code: 1\nERROR: failed to solve: process did not complete successfully'
      )
    )
    await expect(
      runBuild(
        'buildx',
        spec(),
        { logger: memoryLogger(), env: stepFailed, pushRetry: fast },
        files
      )
    ).rejects.toThrow(/docker buildx build failed/)
    expect(calls(stepFailed)).toEqual(['buildx'])
  })
})
