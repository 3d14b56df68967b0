import { describe, expect, it } from 'vitest'
import {
  formatImageRef,
  isValidDigest,
  isValidTag,
  parseImageRef
} from '../../../src/model/image-ref.js'

const D = `sha256:${'a'.repeat(64)}`

describe('parseImageRef', () => {
  it.each([
    ['app', { repository: 'app', name: 'app' }],
    ['team/app:1.2', { repository: 'team/app', name: 'team/app', tag: '1.2' }],
    ['ghcr.io/acme/cart:main', { registry: 'ghcr.io', repository: 'acme/cart', tag: 'main' }],
    [
      'localhost:5000/app',
      { registry: 'localhost:5000', repository: 'app', name: 'localhost:5000/app' }
    ],
    ['localhost/app:1', { registry: 'localhost', repository: 'app', tag: '1' }],
    [
      '127.0.0.1:5000/team/app:1.2',
      { registry: '127.0.0.1:5000', repository: 'team/app', tag: '1.2' }
    ],
    ['host:5000/team/app', { registry: 'host:5000', repository: 'team/app', tag: undefined }],
    [`app@${D}`, { repository: 'app', digest: D, tag: undefined }],
    [`r.io/a/b:v1@${D}`, { registry: 'r.io', repository: 'a/b', tag: 'v1', digest: D }],
    [`r.io:443/a@${D}`, { registry: 'r.io:443', repository: 'a', digest: D }],
    ['[::1]:5000/app:x', { registry: '[::1]:5000', repository: 'app', tag: 'x' }],
    ['a/b/c/d:tag_1-2.3', { repository: 'a/b/c/d', tag: 'tag_1-2.3' }],
    ['my-app__x.y:latest', { repository: 'my-app__x.y', tag: 'latest' }],
    ['  ghcr.io/a/b  ', { registry: 'ghcr.io', repository: 'a/b' }]
  ])('%s', (ref, expected) => {
    expect(parseImageRef(ref)).toMatchObject(expected)
  })

  it.each([
    ['', /empty/],
    ['a b', /whitespace/],
    ['App:1', /invalid repository/],
    ['app:', /invalid tag/],
    ['app:-x', /invalid tag/],
    [`app:${'t'.repeat(129)}`, /invalid tag/],
    ['app@sha256:abc', /invalid digest/],
    [`app@sha256:${'A'.repeat(64)}`, /invalid digest/],
    ['app@', /invalid digest/],
    ['bad_host!:5000/app', /invalid/],
    ['r.io/', /invalid repository/],
    ['r.io//app', /invalid repository/],
    ['a/-b', /invalid repository/],
    ['a/b.', /invalid repository/],
    [`r.io/${'a'.repeat(260)}`, /longer than 255/]
  ])('%j is refused (%s)', (ref, message) => {
    expect(() => parseImageRef(ref)).toThrow(message)
  })

  it('names the bad reference in the error', () => {
    expect(() => parseImageRef('Bad/App')).toThrow('image reference "Bad/App"')
  })
})

describe('tags, digests, formatting, name matching', () => {
  it.each([
    ['v1.2.3', true],
    ['latest', true],
    ['_x', true],
    ['.x', false],
    ['-x', false],
    ['a/b', false],
    ['', false]
  ])('isValidTag(%j) = %s', (tag, ok) => {
    expect(isValidTag(tag)).toBe(ok)
  })

  it.each([
    [D, true],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha512:${'b'.repeat(128)}`, true],
    ['md5:abc', false]
  ])('isValidDigest(%j) = %s', (d, ok) => {
    expect(isValidDigest(d)).toBe(ok)
  })

  it('formatImageRef round-trips', () => {
    for (const ref of ['app', 'r.io:5000/a/b:1', `r.io/a@${D}`, `r.io/a:t@${D}`]) {
      expect(formatImageRef(parseImageRef(ref))).toBe(ref)
    }
  })
})
