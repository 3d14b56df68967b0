/**
 * The order of label keys: `compareLabelKeys` must order every pair exactly as
 * `localeCompare` (what docker/metadata-action sorts its labels with, and the oracle here)
 * does, whether it takes the code-unit path (lower-case ASCII letters, digits, `.` and `-`)
 * or hands the pair to `localeCompare`; and `ociLabels` keeps the localeCompare order.
 */
import { describe, expect, it } from 'vitest'
import { compareLabelKeys, ociLabels } from '../../../../src/image/metadata/labels.js'
import { push } from '../../../support/metadata.js'

const sign = (n: number): number => Math.sign(n)

describe('compareLabelKeys', () => {
  it.each([
    // The code-unit path: punctuation before digits before letters, as in ICU's root order.
    ['org.opencontainers.image.created', 'org.opencontainers.image.description'],
    ['org.opencontainers.image.version', 'org.opencontainers.image.title'],
    ['a-b', 'a.b'],
    ['a-b', 'ab'],
    ['a.b', 'a0'],
    ['a', 'a.'],
    ['1', 'a'],
    ['a1', 'a.'],
    ['', 'a'],
    ['same', 'same'],
    // The localeCompare path: code-unit order differs for these.
    ['a_b', 'a-b'],
    ['B', 'a'],
    ['a_', 'a0'],
    ['a:b', 'a.b'],
    ['com.Example', 'com.example'],
    ['é', 'f'],
    ['maintainer', 'MAINTAINER']
  ])('%j against %j as localeCompare orders them', (a, b) => {
    expect(sign(compareLabelKeys(a, b))).toBe(sign(a.localeCompare(b)))
    expect(sign(compareLabelKeys(b, a))).toBe(sign(b.localeCompare(a)))
  })

  it('agrees with localeCompare on 20,000 random pairs of plain and other keys', () => {
    // A fixed-seed generator: the same pairs every run.
    let seed = 0x2f6b3a1d
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed % n
    }
    const plain = 'abcdefghijklmnopqrstuvwxyz0123456789.-'
    const other = `${plain}ABZ_/:+ é`
    const key = (chars: string): string =>
      Array.from({ length: next(8) }, () => chars[next(chars.length)]).join('')
    for (let i = 0; i < 20_000; i++) {
      const chars = i % 4 === 0 ? other : plain
      const a = key(chars)
      const b = key(chars)
      expect(sign(compareLabelKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(
        sign(a.localeCompare(b))
      )
    }
  })
})

describe('ociLabels', () => {
  it('sorts the standard and the user keys as localeCompare does', () => {
    const warnings: string[] = []
    const labels = ociLabels(
      '1.0',
      push('refs/heads/main'),
      ['zeta=1', 'Alpha=2', 'com.example.b-c=3', 'com.example.b_c=4', 'org.x=5', 'maintainer=6'],
      'labels',
      warnings
    )
    const keys = labels.map(l => l.slice(0, l.indexOf('=')))
    expect(keys).toEqual([...keys].sort((a, b) => a.localeCompare(b)))
    expect(keys).toContain('org.opencontainers.image.version')
    expect(keys.indexOf('Alpha')).toBe(0)
    expect(warnings).toEqual([])
  })
})
