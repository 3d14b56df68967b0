import { describe, expect, it } from 'vitest'
import { mapLimit } from '../../../src/core/pool.js'

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async n => {
      running++
      peak = Math.max(peak, running)
      await new Promise(r => setTimeout(r, n * 5))
      running--
      return n * 10
    })
    expect(out).toEqual([50, 10, 40, 20, 30, 0])
    expect(peak).toBe(2)
  })
  it('handles an empty list and rejects with the first error', async () => {
    expect(await mapLimit([], 3, () => Promise.resolve(1))).toEqual([])
    await expect(
      mapLimit([1, 2], 2, n => (n === 2 ? Promise.reject(new Error('two')) : Promise.resolve(n)))
    ).rejects.toThrow('two')
  })
})
