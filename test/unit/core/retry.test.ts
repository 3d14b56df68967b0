import { describe, expect, it } from 'vitest'
import { backoffDelay, sleep } from '../../../src/core/retry.js'

describe('backoffDelay: the one back-off', () => {
  it('grows, is jittered within [exp/2, exp] and capped (the GitOps push: 200 ms to 3 s)', () => {
    const push = { baseMs: 200, capMs: 3000 }
    for (let i = 0; i < 50; i++) {
      const d0 = backoffDelay(0, push)
      expect(d0).toBeGreaterThanOrEqual(100)
      expect(d0).toBeLessThanOrEqual(200)
      const d9 = backoffDelay(9, push)
      expect(d9).toBeGreaterThanOrEqual(1500)
      expect(d9).toBeLessThanOrEqual(3000)
    }
  })

  it.each([
    // retry, jitter, random, retry-after, wait
    [0, undefined, 0, undefined, 50],
    [0, undefined, 1, undefined, 100],
    [2, undefined, 1, undefined, 400],
    [1, [0.75, 1.25] as const, 0.5, undefined, 200],
    [1, [0.75, 1.25] as const, 0, undefined, 150],
    [1, [1, 1] as const, 0.3, undefined, 200],
    [10, [1, 1] as const, 0.3, undefined, 1000],
    // At least what the server asked for, never above the cap.
    [0, undefined, 0.5, 700, 700],
    [0, undefined, 0.5, 60_000, 1000]
  ])('retry %i, jitter %j, random %d, Retry-After %s: %i ms', (retry, jitter, r, after, wait) => {
    expect(backoffDelay(retry, { baseMs: 100, capMs: 1000, jitter }, after, () => r)).toBe(wait)
  })

  it('sleep waits about that long, and a negative wait is none', async () => {
    const started = Date.now()
    await sleep(-5)
    await sleep(20)
    expect(Date.now() - started).toBeGreaterThanOrEqual(18)
  })
})
