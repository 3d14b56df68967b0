import { spawnSync } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ConfigurationError, FileConfigurationError } from '../../../src/core/errors.js'
import { runMain, runPost, wireMasking } from '../../../src/core/run.js'
import { secrets } from '../../../src/core/secrets.js'

let written: string[] = []
let savedExitCode: typeof process.exitCode

beforeEach(() => {
  written = []
  savedExitCode = process.exitCode
  process.exitCode = undefined
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  })
})
afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = savedExitCode
})

const out = (): string => written.join('')

describe('runMain', () => {
  it('a successful main leaves the exit code alone and logs through the workflow commands', async () => {
    await runMain('demo', async log => {
      log.info('hello')
      await log.group('phase one', async () =>
        log.warning('careful', { file: 'a.yml', startLine: 3 })
      )
    })
    expect(process.exitCode).toBeUndefined()
    expect(out()).toContain('hello\n')
    expect(out()).toContain('::group::phase one\n')
    expect(out()).toContain('::endgroup::\n')
    expect(out()).toContain('::warning file=a.yml,line=3::careful\n')
  })

  it('a ConfigurationError fails the step with "<action> failed: <message>" and no stack', async () => {
    await runMain('demo', async () => {
      throw new ConfigurationError('input "x": got "y", expected z')
    })
    expect(process.exitCode).toBe(1)
    expect(out()).toContain('::error::demo failed: input "x": got "y", expected z\n')
    expect(out()).not.toContain('::debug::')
  })

  it('a mistake in a file of the repository becomes an annotation on its file, line and column', async () => {
    await runMain('demo', async () => {
      throw new FileConfigurationError('.github/conveyor.yml:3:5: services.cart: unknown key', {
        file: '.github/conveyor.yml',
        line: 3,
        col: 5
      })
    })
    expect(process.exitCode).toBe(1)
    expect(out()).toContain(
      '::error title=demo%3A .github/conveyor.yml,file=.github/conveyor.yml,line=3,col=5::demo failed: .github/conveyor.yml:3:5: services.cart: unknown key\n'
    )
  })

  it('a secret shorter than 8 characters gets one warning naming its source, never its value', async () => {
    await runMain('demo', async () => {
      secrets.add('sha256', { label: 'input "registry-password"' })
      secrets.add('sha256', { label: 'input "registry-password"' })
      secrets.add('ab', { label: 'input "token"' })
      secrets.add('a-long-enough-secret', { label: 'input "other"' })
    })
    const warnings = out()
      .split('\n')
      .filter(l => l.startsWith('::warning::'))
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(
      /^::warning::a secret of 6 characters \(input "registry-password"\) is shorter than 8 characters/
    )
    expect(warnings[1]).toMatch(
      /^::warning::a secret of 2 characters \(input "token"\) is too short to be masked at all/
    )
    expect(warnings.join('\n')).not.toContain('sha256')
  })

  it('another error fails the step and puts the stack in debug', async () => {
    await runMain('demo', async () => {
      throw new Error('boom')
    })
    expect(process.exitCode).toBe(1)
    expect(out()).toContain('::error::demo failed: boom\n')
    expect(out()).toMatch(/::debug::Error: boom%0A {4}at /)
  })

  it('a non-Error throw still fails the step', async () => {
    await runMain('demo', async () => {
      throw 'just a string'
    })
    expect(process.exitCode).toBe(1)
    expect(out()).toContain('::error::demo failed: just a string')
  })

  it('masks secrets registered during main and redacts them from the failure', async () => {
    const secret = 'run-secret-value-42'
    await runMain('demo', async log => {
      secrets.add(secret)
      log.info(`using ${secret}`)
      throw new Error(`server rejected ${secret} (${Buffer.from(secret).toString('base64')})`)
    })
    const text = out()
    expect(text).toContain(`::add-mask::${secret}\n`)
    expect(text).toContain(
      `::add-mask::${Buffer.from(Buffer.from(secret).toString('base64')).toString('base64')}\n`
    )
    const withoutMasks = text
      .split('\n')
      .filter(l => !l.startsWith('::add-mask::'))
      .join('\n')
    expect(withoutMasks).not.toContain(secret)
    expect(withoutMasks).toContain('using ***')
    expect(withoutMasks).toContain('::error::demo failed: server rejected *** (***)')
  })

  it('wireMasking (re)plays every registered form through ::add-mask::', () => {
    const early = 'early-secret-value-7'
    secrets.add(early)
    written = []
    wireMasking()
    const masks = new Set(
      out()
        .split('\n')
        .filter(l => l.startsWith('::add-mask::'))
        .map(l => l.slice('::add-mask::'.length))
    )
    for (const form of secrets.allForms()) expect(masks.has(form)).toBe(true)
    expect(masks.has(early)).toBe(true)
  })

  it('writes the forms of one secret in one go (stdout corked around them)', () => {
    wireMasking()
    const events: string[] = []
    vi.spyOn(process.stdout, 'cork').mockImplementation(() => void events.push('cork'))
    vi.spyOn(process.stdout, 'uncork').mockImplementation(() => void events.push('uncork'))
    written = []
    vi.mocked(process.stdout.write).mockImplementation((chunk: string | Uint8Array) => {
      events.push(String(chunk).startsWith('::add-mask::') ? 'mask' : 'other')
      written.push(String(chunk))
      return true
    })
    secrets.add('-----BEGIN KEY-----\nline-one-of-it\nline-two-of-it\n-----END KEY-----')
    const masks = events.filter(e => e === 'mask').length
    expect(masks).toBeGreaterThan(20)
    expect(events).toEqual(['cork', ...Array<string>(masks).fill('mask'), 'uncork'])
  })
})

describe('runPost', () => {
  it('an error only warns, the job does not fail', async () => {
    await runPost('demo', async () => {
      throw new Error('could not remove /tmp/x')
    })
    expect(process.exitCode).toBeUndefined()
    expect(out()).toContain('::warning::demo cleanup: could not remove /tmp/x\n')
    expect(out()).not.toContain('::error::')
  })

  it('a post error holding a secret is redacted', async () => {
    const secret = 'post-secret-value-9'
    await runPost('demo', async () => {
      secrets.add(secret)
      throw new Error(`logout ${secret} failed`)
    })
    expect(out()).toContain('::warning::demo cleanup: logout *** failed')
  })

  it('a clean post writes what it logs', async () => {
    await runPost('demo', async log => log.info('removed 2 files'))
    expect(out()).toContain('removed 2 files\n')
    expect(process.exitCode).toBeUndefined()
  })
})

describe('endProcess', () => {
  it('ends the process with the exit code set, though a handle is still open, once a large output is flushed', () => {
    const run = new URL('../../../src/core/run.ts', import.meta.url).pathname
    // 4 MiB written just before into a pipe: all of it must arrive, none cut off.
    const script = [
      `import { endProcess } from ${JSON.stringify(run)}`,
      'setInterval(() => undefined, 1000)',
      "process.stdout.write('x'.repeat(4 * 1024 * 1024))",
      "process.stderr.write('done\\n')",
      'process.exitCode = 3',
      'endProcess()'
    ].join('\n')
    const started = Date.now()
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        timeout: 20_000
      }
    )
    expect(r.error).toBeUndefined()
    expect(r.status).toBe(3)
    expect(r.stdout.length).toBe(4 * 1024 * 1024)
    expect(r.stderr).toContain('done')
    // Not held open by the interval (spawnSync's timeout would end it at 20 s).
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})
