import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { discoverServices } from '../../../../src/model/services/discover.js'

function errorOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigurationError')
}

describe('discoverServices', () => {
  it('names services after their directory, or the parent of a generic one', () => {
    const s = discoverServices([
      'src/cartservice/src/Dockerfile',
      'src/frontend/Dockerfile',
      'src/emailservice/Dockerfile',
      'tools/app/Dockerfile',
      'node_modules/x/Dockerfile',
      'vendor/y/Dockerfile',
      'a/.git/Dockerfile',
      'docs/Dockerfile.md',
      'Dockerfile'
    ])
    expect(s.map(x => [x.name, x.path, x.context, x.dockerfile])).toEqual([
      ['app', '.', '.', 'Dockerfile'],
      ['cartservice', 'src/cartservice', 'src/cartservice/src', 'src/cartservice/src/Dockerfile'],
      ['emailservice', 'src/emailservice', 'src/emailservice', 'src/emailservice/Dockerfile'],
      ['frontend', 'src/frontend', 'src/frontend', 'src/frontend/Dockerfile'],
      ['tools', 'tools', 'tools/app', 'tools/app/Dockerfile']
    ])
  })

  it('two Dockerfiles with one name are a clear error', () => {
    expect(errorOf(() => discoverServices(['a/cart/Dockerfile', 'b/cart/docker/Dockerfile']))).toBe(
      'two Dockerfiles would make a service named "cart": a/cart/Dockerfile and b/cart/docker/Dockerfile; add a services file (.github/conveyor.yml) that names them'
    )
  })
})
