import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  RESULT_VERSION,
  readBuildResult,
  validateBuildResult,
  writeBuildResult,
  type BuildResult
} from '../../../src/model/build-result.js'
import { ConfigurationError } from '../../../src/core/errors.js'
import { secrets } from '../../../src/core/secrets.js'

const good: BuildResult = {
  version: RESULT_VERSION,
  service: 'cart',
  image: 'ghcr.io/acme/cart',
  digest: `sha256:${'0123456789abcdef'.repeat(4)}`,
  tags: ['ghcr.io/acme/cart:main'],
  reused: false,
  platforms: ['linux/amd64'],
  source: { repository: 'acme/shop', sha: 'a'.repeat(40), ref: 'refs/heads/main' },
  createdAt: '2026-01-01T00:00:00.000Z'
}

const dir = mkdtempSync(join(tmpdir(), 'conveyor-result-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('validateBuildResult', () => {
  it('accepts a good result', () => {
    expect(validateBuildResult(structuredClone(good), 'leg')).toEqual(good)
  })

  const bad: [string, (r: Record<string, unknown>) => unknown, RegExp][] = [
    ['not an object', () => [], /expected a JSON object/],
    ['null', () => null, /expected a JSON object/],
    ['version', r => ({ ...r, version: 2 }), /"version": 1, got 2/],
    ['service', r => ({ ...r, service: '' }), /"service" must be a non-empty string/],
    ['image', r => ({ ...r, image: 5 }), /"image" must be a non-empty string/],
    ['digest missing', r => ({ ...r, digest: undefined }), /"digest" must be a non-empty string/],
    [
      'digest format',
      r => ({ ...r, digest: 'sha256:xyz' }),
      /"digest" must look like sha256:<64 hex>, got "sha256:xyz"/
    ],
    ['createdAt', r => ({ ...r, createdAt: '' }), /"createdAt"/],
    ['tags', r => ({ ...r, tags: 'main' }), /"tags" must be an array of strings/],
    ['tags items', r => ({ ...r, tags: [1] }), /"tags"/],
    ['platforms', r => ({ ...r, platforms: [null] }), /"platforms" must be an array of strings/],
    ['reused', r => ({ ...r, reused: 'no' }), /"reused" must be true or false/],
    ['source', r => ({ ...r, source: undefined }), /"source" must be an object/],
    ['source.sha', r => ({ ...r, source: { repository: 'a/b' } }), /"source"/]
  ]
  it.each(bad)('%s: the error names the field and the leg', (_label, mutate, message) => {
    const value = mutate(structuredClone(good) as unknown as Record<string, unknown>)
    let error: unknown
    try {
      validateBuildResult(value, 'results/cart.json')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).toContain('build result results/cart.json: ')
  })
})

describe('result files', () => {
  it('write then read round-trips, named after the service', () => {
    const path = writeBuildResult(join(dir, 'nested', 'results'), good)
    expect(path).toBe(join(dir, 'nested', 'results', 'cart.json'))
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true)
    expect(readBuildResult(path)).toEqual(good)
  })

  it.each(['../x', 'a/b', '.hidden', '', 'a b'])('refuses the service name %j for a file', s => {
    expect(() => writeBuildResult(dir, { ...good, service: s })).toThrow(
      /cannot name a result file/
    )
  })

  it('names the file when it is not JSON or not valid', () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{not json')
    expect(() => readBuildResult(bad)).toThrow(ConfigurationError)
    expect(() => readBuildResult(bad)).toThrow(`build result ${bad}: not valid JSON`)
    const wrong = join(dir, 'wrong.json')
    writeFileSync(wrong, JSON.stringify({ ...good, reused: 1 }))
    expect(() => readBuildResult(wrong)).toThrow(`build result ${wrong}: "reused"`)
  })

  it('a file that is not JSON is named with its size, never its content', () => {
    const passwd = join(dir, 'passwd.json')
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nci:s3cr3t-hash:1000\n')
    let message = ''
    try {
      readBuildResult(passwd)
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/^build result .*passwd\.json: not valid JSON \(52 bytes/)
    expect(message).not.toMatch(/root|s3cr3t|bash/)
  })

  it('a result that masking would rewrite is refused, not written', () => {
    secrets.add('sha256', { label: 'input "registry-password"' })
    const out = join(dir, 'masked')
    expect(() => writeBuildResult(out, good)).toThrow(
      /^the result file cart\.json holds a secret of 6 characters \(input "registry-password"\)/
    )
    expect(existsSync(join(out, 'cart.json'))).toBe(false)
  })
})
