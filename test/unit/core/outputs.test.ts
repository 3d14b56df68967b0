import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  MAX_OUTPUT_BYTES,
  MAX_TOTAL_OUTPUT_BYTES,
  OutputTooLargeError,
  exportVariable,
  getState,
  resetOutputTotals,
  runnerTemp,
  saveState,
  setOutput,
  openDataFile,
  writeDataFile
} from '../../../src/core/outputs.js'
import { MaskedValueError, secrets } from '../../../src/core/secrets.js'
import { parseFileCommands } from '../../support/harness.js'

let dir = ''
let saved: NodeJS.ProcessEnv
const file = (name: string): string => join(dir, name)
const read = (name: string): string => readFileSync(file(name), 'utf8')

beforeEach(() => {
  saved = { ...process.env }
  dir = mkdtempSync(join(tmpdir(), 'conveyor-outputs-'))
  for (const f of ['output', 'state', 'env']) writeFileSync(file(f), '')
  process.env.GITHUB_OUTPUT = file('output')
  process.env.GITHUB_STATE = file('state')
  process.env.GITHUB_ENV = file('env')
  process.env.RUNNER_TEMP = join(dir, 'temp')
  resetOutputTotals()
})
afterEach(() => {
  process.env = saved
  rmSync(dir, { recursive: true, force: true })
})

describe('setOutput', () => {
  it('writes the name<<delimiter format with a random delimiter', () => {
    setOutput('digest', 'sha256:abc')
    const text = read('output')
    expect(text).toMatch(/^digest<<(ghadelimiter_[0-9a-f-]{36})\nsha256:abc\n\1\n$/)
    expect(parseFileCommands(text)).toEqual({ digest: 'sha256:abc' })
  })

  it('keeps multi-line values, JSON for objects, strings for numbers and booleans', () => {
    setOutput('lines', 'a\nb\n\nc')
    setOutput('matrix', { include: [{ service: 'cart' }] })
    setOutput('count', 3)
    setOutput('changed', false)
    setOutput('empty', '')
    expect(parseFileCommands(read('output'))).toEqual({
      lines: 'a\nb\n\nc',
      matrix: '{"include":[{"service":"cart"}]}',
      count: '3',
      changed: 'false',
      empty: ''
    })
  })

  it('a value that contains a delimiter-looking line cannot end the value early', () => {
    const tricky = 'x\nghadelimiter_00000000-0000-0000-0000-000000000000\ninjected=1'
    setOutput('v', tricky)
    expect(parseFileCommands(read('output'))).toEqual({ v: tricky })
  })

  it('refuses a value masking would rewrite, naming the output, in any encoding; writes nothing', () => {
    secrets.add('output-secret-123', { label: 'input "token"' })
    for (const text of [
      'token output-secret-123 end',
      Buffer.from(Buffer.from('output-secret-123').toString('base64')).toString('base64'),
      Buffer.from('output-secret-123').toString('hex')
    ]) {
      expect(() => setOutput('msg', text)).toThrow(MaskedValueError)
      expect(() => setOutput('msg', text)).toThrow(
        /^output "msg" holds a secret of 17 characters \(input "token"\) or one of its encodings/
      )
    }
    expect(read('output')).toBe('')
    // the message never holds the value
    const error = (() => {
      try {
        setOutput('msg', 'output-secret-123')
      } catch (e) {
        return (e as Error).message
      }
      return ''
    })()
    expect(error).not.toContain('output-secret-123')
  })

  it('a short secret (the digest case: "sha256") fails the digest output instead of rewriting it', () => {
    secrets.add('sha256', { label: 'input "registry-password"' })
    const digest = `sha256:${'ab'.repeat(32)}`
    expect(() => setOutput('digest', digest)).toThrow(
      /^output "digest" holds a secret of 6 characters \(input "registry-password"\).*use a longer, random one$/
    )
    expect(read('output')).toBe('')
  })

  it('refuses a value over the per-output cap and writes nothing', () => {
    expect(() => setOutput('big', 'x'.repeat(MAX_OUTPUT_BYTES + 1))).toThrow(OutputTooLargeError)
    expect(() => setOutput('big', 'x'.repeat(MAX_OUTPUT_BYTES + 1))).toThrow(/output "big"/)
    expect(read('output')).toBe('')
  })

  it('refuses when the step total would pass its cap; reset clears it', () => {
    const chunk = 'y'.repeat(MAX_OUTPUT_BYTES - 100)
    setOutput('a', chunk)
    expect(() => setOutput('b', chunk)).not.toThrow()
    expect(() => setOutput('c', chunk)).toThrow(OutputTooLargeError)
    expect(MAX_TOTAL_OUTPUT_BYTES).toBeLessThan(1024 * 1024)
    resetOutputTotals()
    expect(() => setOutput('c', chunk)).not.toThrow()
  })

  it('counts bytes, not characters (multi-byte text)', () => {
    const euro = '€'.repeat(Math.floor(MAX_OUTPUT_BYTES / 3) + 10) // 3 bytes each
    expect(euro.length).toBeLessThan(MAX_OUTPUT_BYTES)
    expect(() => setOutput('e', euro)).toThrow(OutputTooLargeError)
  })
})

describe('state and environment', () => {
  it('saveState writes the file command; getState reads STATE_<name>', () => {
    saveState('registry', 'localhost:5000')
    saveState('auth-file', '/tmp/x/auth.json')
    const state = parseFileCommands(read('state'))
    expect(state).toEqual({ registry: 'localhost:5000', 'auth-file': '/tmp/x/auth.json' })
    for (const [k, v] of Object.entries(state)) process.env[`STATE_${k}`] = v
    expect(getState('registry')).toBe('localhost:5000')
    expect(getState('auth-file')).toBe('/tmp/x/auth.json')
    expect(getState('missing')).toBe('')
  })

  it('saveState refuses a value holding a secret (GITHUB_STATE is a file on the runner)', () => {
    secrets.add('state-secret-456')
    expect(() => saveState('token', 'Bearer state-secret-456')).toThrow(/holds a secret/)
    expect(read('state')).not.toContain('state-secret-456')
  })

  it('exportVariable sets process.env and GITHUB_ENV, and refuses secrets', () => {
    exportVariable('CONVEYOR_X', 'value x')
    expect(process.env.CONVEYOR_X).toBe('value x')
    expect(parseFileCommands(read('env'))).toEqual({ CONVEYOR_X: 'value x' })
    secrets.add('env-secret-789')
    expect(() => exportVariable('TOKEN', 'env-secret-789')).toThrow(/refusing to export TOKEN/)
    expect(read('env')).not.toContain('env-secret-789')
    expect(process.env.TOKEN).toBeUndefined()
  })
})

describe('data files under RUNNER_TEMP', () => {
  it('runnerTemp is RUNNER_TEMP/conveyor, created', () => {
    const d = runnerTemp()
    expect(d).toBe(join(dir, 'temp', 'conveyor'))
    expect(statSync(d).isDirectory()).toBe(true)
  })

  it('writeDataFile writes mode 0600 text and raw buffers; text holding a secret is refused', () => {
    secrets.add('file-secret-abc')
    const p = writeDataFile('plan.json', '{"token":"none"}')
    expect(p).toBe(join(dir, 'temp', 'conveyor', 'plan.json'))
    expect(statSync(p).mode & 0o777).toBe(0o600)
    expect(readFileSync(p, 'utf8')).toBe('{"token":"none"}')
    expect(() => writeDataFile('plan.json', '{"token":"file-secret-abc"}')).toThrow(
      /^data file plan\.json holds a secret of 15 characters/
    )
    expect(readFileSync(p, 'utf8')).not.toContain('file-secret-abc')
    const b = writeDataFile('blob.bin', Buffer.from([0, 1, 2]))
    expect([...readFileSync(b)]).toEqual([0, 1, 2])
  })

  it('openDataFile writes piece by piece, each checked, mode 0600, and refuses after close', () => {
    secrets.add('piece-secret-xyz')
    const f = openDataFile('pieces.json')
    f.write('[\n"first"')
    expect(() => f.write(',\n"piece-secret-xyz"')).toThrow(MaskedValueError)
    f.write(Buffer.from(',\n"ok"'))
    f.write('\n]\n')
    f.close()
    expect(f.path).toBe(join(dir, 'temp', 'conveyor', 'pieces.json'))
    expect(statSync(f.path).mode & 0o777).toBe(0o600)
    expect(readFileSync(f.path, 'utf8')).toBe('[\n"first",\n"ok"\n]\n')
    expect(() => f.write('more')).toThrow(/closed/)
    expect(() => openDataFile('../escape')).toThrow(/invalid data file name/)
  })

  it('writeDataFile tightens an existing file to 0600', () => {
    const p = join(runnerTemp(), 'old.txt')
    writeFileSync(p, 'old', { mode: 0o644 })
    writeDataFile('old.txt', 'new')
    expect(statSync(p).mode & 0o777).toBe(0o600)
    expect(readFileSync(p, 'utf8')).toBe('new')
  })

  it.each(['../escape', 'a/b', 'a\\b', '.hidden', '..'])('refuses the file name %j', name => {
    expect(() => writeDataFile(name, 'x')).toThrow(/invalid data file name/)
  })

  it('falls back to TMPDIR outside a runner', () => {
    delete process.env.RUNNER_TEMP
    process.env.TMPDIR = join(dir, 'tmpdir')
    expect(runnerTemp()).toBe(join(dir, 'tmpdir', 'conveyor'))
  })
})
