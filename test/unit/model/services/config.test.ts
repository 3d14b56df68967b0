import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../../src/core/errors.js'
import {
  checkDependencies,
  findService,
  normalizeRelPath,
  serviceImage,
  type Service
} from '../../../../src/model/services/config.js'
import { discoverServices } from '../../../../src/model/services/discover.js'
import { parseServices } from '../../../../src/model/services/parse.js'

const F = '.github/conveyor.yml'

function parse(text: string) {
  return parseServices(text, F)
}

function errorOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigurationError')
}

describe('helpers', () => {
  it.each([
    ['a/b/', 'a/b'],
    ['./a//b', 'a/b'],
    ['.', '.'],
    ['', '.'],
    ['a/../b', 'b'],
    ['../a', undefined],
    ['/a', undefined],
    ['a\\b', undefined]
  ])('normalizeRelPath(%j) = %j', (input, out) => {
    expect(normalizeRelPath(input)).toBe(out)
  })

  it('checkDependencies accepts a diamond', () => {
    const s = (name: string, dependsOn: string[] = []): Service => ({
      name,
      path: name,
      context: name,
      dockerfile: `${name}/Dockerfile`,
      image: name,
      paths: [],
      ignore: [],
      dependsOn,
      buildArgs: {},
      platforms: ['linux/amd64']
    })
    expect(() =>
      checkDependencies([s('a', ['b', 'c']), s('b', ['d']), s('c', ['d']), s('d')])
    ).not.toThrow()
  })

  it('findService lists the known names and hints', () => {
    const c = parse('services:\n  cart: { path: cart }\n  checkout: { path: checkout }\n')
    expect(findService(c, 'cart').name).toBe('cart')
    const msg = errorOf(() => findService(c, 'carts'))
    expect(msg).toBe(
      'unknown service "carts" (did you mean "cart"?); services file .github/conveyor.yml defines: cart, checkout'
    )
  })
})

describe('serviceImage: inputs win over the services file defaults, never over image:', () => {
  const file = '.github/conveyor.yml'
  const cfg = parseServices(
    'defaults: { registry: ghcr.io/acme }\nservices:\n  cart: { path: cart }\n  pay: { path: pay, image: pay-img }\n  web: { path: web, image: quay.io/x/web }\n',
    file
  )
  const svc = (n: string) => findService(cfg, n)
  it.each([
    ['cart', {}, 'ghcr.io/acme/cart', 'defaults.registry of .github/conveyor.yml'],
    [
      'cart',
      { registry: 'localhost:5000/dev' },
      'localhost:5000/dev/cart',
      'input "registry" (over defaults.registry ghcr.io/acme of .github/conveyor.yml)'
    ],
    ['cart', { registry: 'ghcr.io/acme' }, 'ghcr.io/acme/cart', 'input "registry"'],
    ['cart', { image: 'x.io/y/z' }, 'x.io/y/z', 'input "image"'],
    [
      'cart',
      { image: 'z', registry: 'r.io/n' },
      'r.io/n/z',
      'input "image", prefixed with input "registry"'
    ],
    [
      'pay',
      { registry: 'localhost:5000/dev' },
      'localhost:5000/dev/pay-img',
      'image: of service pay in .github/conveyor.yml, prefixed with input "registry"'
    ],
    [
      'web',
      { registry: 'localhost:5000/dev' },
      'quay.io/x/web',
      'image: of service web in .github/conveyor.yml'
    ]
  ])('%s with %j → %s (%s)', (name, inputs, image, from) => {
    expect(serviceImage(svc(name), cfg, inputs)).toEqual({ image, from })
  })

  it('discovered services: the registry input, else the bare name', () => {
    const [d] = discoverServices(['api/Dockerfile'])
    const none = { defaults: { platforms: ['linux/amd64'] } }
    expect(serviceImage(d!, none, { registry: 'r.io/a' }).image).toBe('r.io/a/api')
    expect(serviceImage(d!, none, {}).from).toMatch(/^the service name alone/)
  })
})
