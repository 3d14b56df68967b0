import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  actionsLogger,
  memoryLogger,
  neutralizeCommands,
  silentLogger
} from '../../../src/core/logger.js'
import { secrets } from '../../../src/core/secrets.js'

let written: string[] = []
beforeEach(() => {
  written = []
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  })
})
afterEach(() => vi.restoreAllMocks())

describe('actionsLogger', () => {
  it('writes each level as the runner expects, redacted', async () => {
    secrets.add('logger-secret-321')
    const log = actionsLogger()
    log.info('info logger-secret-321')
    log.debug('debug logger-secret-321')
    log.notice('notice', { title: 'T' })
    log.warning('warn', { file: 'f.yml', startLine: 2 })
    log.error('err logger-secret-321')
    const value = await log.group('group logger-secret-321', async () => 42)
    expect(value).toBe(42)
    const out = written.join('')
    expect(out).not.toContain('logger-secret-321')
    expect(out).toContain('info ***\n')
    expect(out).toContain('::debug::debug ***\n')
    expect(out).toContain('::notice title=T::notice\n')
    expect(out).toContain('::warning file=f.yml,line=2::warn\n')
    expect(out).toContain('::error::err ***\n')
    expect(out).toContain('::group::group ***\n')
  })

  it('untrusted text in an info line cannot issue workflow commands', () => {
    const log = actionsLogger()
    const commit = 'fix: thing\n::stop-commands::pwned\n  ::add-mask::x\n::error::fake'
    log.info(commit)
    const lines = written.join('').split('\n')
    expect(lines.some(l => /^\s*::/.test(l))).toBe(false)
    expect(lines).toContain(':\u200b:stop-commands::pwned')
    // text in the middle of a line is left alone
    expect(neutralizeCommands('a ::b:: c')).toBe('a ::b:: c')
  })
})

describe('memoryLogger and silentLogger', () => {
  it('memoryLogger records redacted lines with levels and props', async () => {
    secrets.add('memory-secret-654')
    const log = memoryLogger()
    log.info('a memory-secret-654')
    log.warning('w', { file: 'x' })
    await log.group('g', async () => log.debug('inside'))
    expect(log.lines).toEqual([
      { level: 'info', message: 'a ***', props: undefined },
      { level: 'warning', message: 'w', props: { file: 'x' } },
      { level: 'group', message: 'g', props: undefined },
      { level: 'debug', message: 'inside', props: undefined }
    ])
    expect(log.text()).toBe('info: a ***\nwarning: w\ngroup: g\ndebug: inside')
  })

  it('silentLogger drops lines but still runs groups', async () => {
    silentLogger.info('x')
    expect(await silentLogger.group('g', async () => 'ran')).toBe('ran')
    expect(written).toEqual([])
  })
})
