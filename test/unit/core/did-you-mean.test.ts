import { describe, expect, it } from 'vitest'
import { didYouMean, didYouMeanHint, editDistance } from '../../../src/core/did-you-mean.js'

describe('did you mean', () => {
  it.each([
    ['', '', 0],
    ['abc', 'abc', 0],
    ['kitten', 'sitting', 3],
    ['path', 'paths', 1],
    ['', 'abc', 3],
    ['imgae', 'image', 1]
  ])('editDistance(%j, %j) = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d)
  })

  it('didYouMean ignores case and separators, and stays quiet for far words', () => {
    expect(didYouMean('build_args', ['build-args', 'path'])).toBe('build-args')
    expect(didYouMean('Platform', ['platforms'])).toBe('platforms')
    expect(didYouMean('xyzzy', ['path', 'image'])).toBeUndefined()
  })

  it('didYouMeanHint is the sentence for a close candidate, or nothing', () => {
    expect(didYouMeanHint('imgae', ['image', 'path'])).toBe(' (did you mean "image"?)')
    expect(didYouMeanHint('xyzzy', ['image', 'path'])).toBe('')
    expect(didYouMeanHint('x'.repeat(500), ['x'])).toBe('')
  })
})
