import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from '../../../src/core/duration.js'

describe('parseDuration', () => {
  it.each([
    ['300', 300_000],
    ['1.5', 1500],
    ['0', 0],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2m30s', 150_000],
    ['250ms', 250],
    ['1m250ms', 60_250],
    ['1.5s', 1500],
    ['  45s  ', 45_000],
    ['1h0m0s', 3_600_000]
  ])('%j is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each([
    '',
    '   ',
    'abc',
    '5x',
    '-5',
    '-5s',
    '5 m',
    's',
    'm5',
    '1h30',
    '5m junk',
    '1e3',
    '.5s',
    '5s5',
    '1d'
  ])('%j is not a duration', text => {
    expect(parseDuration(text)).toBeUndefined()
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [1000, '1.0s'],
    [12_345, '12.3s'],
    [60_000, '1m00s'],
    [245_000, '4m05s'],
    [3_600_000, '1h00m'],
    [5_400_000, '1h30m']
  ])('%i ms reads %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  it('round-trips through parseDuration for whole units', () => {
    for (const text of ['90s', '5m', '1h30m']) {
      const ms = parseDuration(text)!
      expect(parseDuration(formatDuration(ms).replace(/^(\d+)m(\d+)s$/, '$1m$2s'))).toBe(ms)
    }
  })
})
