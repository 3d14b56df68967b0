import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigurationError, FileConfigurationError } from '../../../../src/core/errors.js'
import type { Service } from '../../../../src/model/services/config.js'
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

describe('parseServices: a good file', () => {
  it('applies defaults: image from the registry, platforms, context and Dockerfile from path', () => {
    const c = parse(
      [
        "global: ['.github/conveyor.yml', 'protos/**']",
        'defaults: { registry: ghcr.io/acme/, platforms: [linux/amd64, linux/arm64] }',
        'services:',
        '  cart:',
        '    path: ./src/cart/',
        "    paths: ['libs/money/**']",
        "    ignore: '**/*.md'",
        '    depends-on: [money-lib]',
        '    build-args: { FLAVOR: slim, VERSION: 2, DEBUG: false }',
        '    target: runtime',
        '    deploy: { kustomize: overlays/prod, helm-values: charts/shop/values.yaml, key: cart.image }',
        '  money-lib:',
        '    dockerfile: libs/money/Dockerfile',
        '    image: registry.example.com:5000/team/money',
        '    platforms: [linux/arm/v7]'
      ].join('\n')
    )
    expect(c.file).toBe(F)
    expect(c.global).toEqual(['.github/conveyor.yml', 'protos/**'])
    expect(c.defaults).toEqual({
      registry: 'ghcr.io/acme',
      platforms: ['linux/amd64', 'linux/arm64']
    })
    expect(c.services[0]).toEqual<Service>({
      name: 'cart',
      path: 'src/cart',
      context: 'src/cart',
      dockerfile: 'src/cart/Dockerfile',
      image: 'ghcr.io/acme/cart',
      imageSource: 'defaults.registry',
      paths: ['libs/money/**'],
      ignore: ['**/*.md'],
      dependsOn: ['money-lib'],
      buildArgs: { FLAVOR: 'slim', VERSION: '2', DEBUG: 'false' },
      platforms: ['linux/amd64', 'linux/arm64'],
      target: 'runtime',
      deploy: {
        kustomize: 'overlays/prod',
        helmValues: 'charts/shop/values.yaml',
        key: 'cart.image'
      }
    })
    expect(c.services[1]).toMatchObject({
      name: 'money-lib',
      path: 'libs/money',
      context: 'libs/money',
      dockerfile: 'libs/money/Dockerfile',
      image: 'registry.example.com:5000/team/money',
      platforms: ['linux/arm/v7']
    })
  })

  it('without a registry the image is the name alone; platforms default to linux/amd64', () => {
    const c = parse('services:\n  Cart:\n    path: cart\n    context: .\n')
    expect(c.services[0]).toMatchObject({
      image: 'cart',
      platforms: ['linux/amd64'],
      context: '.',
      dockerfile: 'cart/Dockerfile'
    })
    expect(c.defaults).toEqual({ platforms: ['linux/amd64'] })
  })

  it('an empty file is an empty config; a file without services discovers them', () => {
    expect(parse('').services).toEqual([])
    const c = parseServices('defaults: { registry: ghcr.io/x }\n', F, d =>
      discoverServices(['a/Dockerfile'], d)
    )
    expect(c.services.map(s => [s.name, s.image])).toEqual([['a', 'ghcr.io/x/a']])
  })
})

describe('parseServices: errors name file, line, column and key', () => {
  const cases: [string, string, RegExp][] = [
    [
      'unknown top key',
      'servces: {}\n',
      /^\.github\/conveyor\.yml:1:1: servces: unknown key "servces" \(did you mean "services"\?\)/
    ],
    [
      'unknown service key',
      'services:\n  a:\n    path: a\n    imgae: x\n',
      /:4:5: services\.a\.imgae: unknown key "imgae" \(did you mean "image"\?\)/
    ],
    [
      'camelCase key',
      'services:\n  a:\n    path: a\n    dependsOn: [b]\n',
      /:4:5: services\.a\.dependsOn: unknown key .*did you mean "depends-on"/
    ],
    [
      'no hint for far keys',
      'services:\n  a:\n    path: a\n    zzzzzzzz: 1\n',
      /unknown key "zzzzzzzz"; expected one of path, context/
    ],
    [
      'unknown deploy key',
      'services:\n  a:\n    path: a\n    deploy: { kustomise: x }\n',
      /:4:15: services\.a\.deploy\.kustomise: unknown key .*did you mean "kustomize"/
    ],
    ['missing path', 'services:\n  a:\n    image: x\n', /:2:3: services\.a: missing "path"/],
    ['null service', 'services:\n  a:\n', /:2:3: services\.a: missing "path"/],
    ['services null', 'services:\n', /services: expected a mapping of service names/],
    [
      'services a list',
      'services: [a, b]\n',
      /:1:11: services: expected a mapping of service names to settings, got a list/
    ],
    [
      'path a list',
      'services:\n  a: { path: [x] }\n',
      /:2:14: services\.a\.path: expected a repository-relative path, got a list/
    ],
    [
      'absolute path',
      'services:\n  a: { path: /abs }\n',
      /services\.a\.path: got "\/abs", expected a path relative/
    ],
    ['backslash path', 'services:\n  a: { path: "a\\\\b" }\n', /services\.a\.path: got "a\\\\b"/],
    [
      'bad platform',
      'services:\n  a: { path: a, platforms: [amd64] }\n',
      /:2:29: services\.a\.platforms\[0\]: got "amd64", expected a platform such as "linux\/amd64"/
    ],
    [
      'empty platforms',
      'services:\n  a: { path: a, platforms: [] }\n',
      /services\.a\.platforms: expected at least one platform/
    ],
    [
      'image with a tag',
      'services:\n  a: { path: a, image: "ghcr.io/x/a:1" }\n',
      /services\.a\.image: got "ghcr\.io\/x\/a:1", expected a full image name without tag/
    ],
    [
      'upper-case image',
      'services:\n  a: { path: a, image: GHCR.io/a }\n',
      /services\.a\.image: got "GHCR\.io\/a"/
    ],
    [
      'bad registry',
      'defaults: { registry: "ghcr.io/Acme" }\n',
      /:1:23: defaults\.registry: got "ghcr\.io\/Acme"/
    ],
    [
      'build-args list',
      'services:\n  a: { path: a, build-args: [X] }\n',
      /services\.a\.build-args: expected a mapping of NAME: value, got a list/
    ],
    [
      'build-arg object',
      'services:\n  a:\n    path: a\n    build-args: { X: { y: 1 } }\n',
      /:4:22: services\.a\.build-args\.X: expected a string, number or boolean, got a mapping/
    ],
    [
      'build-arg bad name',
      'services:\n  a: { path: a, build-args: { "1X": y } }\n',
      /services\.a\.build-args\.1X: expected a build argument name/
    ],
    [
      'bad service name',
      'services:\n  "-a": { path: a }\n',
      /:2:3: services\.-a: service name "-a" is not valid/
    ],
    ['global not a list', 'global: { a: 1 }\n', /:1:9: global: expected a list, got a mapping/],
    [
      'global absolute',
      'global: [/etc/x]\n',
      /global\[0\]: got "\/etc\/x", expected a glob relative/
    ],
    [
      'key without helm-values',
      'services:\n  a: { path: a, deploy: { key: a.image } }\n',
      /services\.a\.deploy\.key: is only used with "helm-values"/
    ],
    [
      'duplicate key',
      'services:\n  a: { path: a }\n  a: { path: b }\n',
      /:3:3: not valid YAML: Map keys must be unique/
    ],
    ['bad YAML', 'services:\n  a: [\n', /^\.github\/conveyor\.yml:\d+:\d+: not valid YAML/],
    [
      'unknown dependency',
      'services:\n  a: { path: a, depends-on: [c] }\n  b: { path: b }\n',
      /:2:30: services\.a\.depends-on: unknown service "c"; known services: a, b/
    ],
    [
      'self dependency',
      'services:\n  a: { path: a, depends-on: [a] }\n',
      /services\.a\.depends-on: a service cannot depend on itself \(cycle a -> a\)/
    ],
    [
      'cycle of three',
      'services:\n  a: { path: a, depends-on: [b] }\n  b: { path: b, depends-on: [c] }\n  c: { path: c, depends-on: [a] }\n',
      /:4:30: services\.c\.depends-on: dependency cycle a -> b -> c -> a/
    ]
  ]
  it.each(cases)('%s', (_name, text, re) => {
    expect(errorOf(() => parse(text))).toMatch(re)
  })

  it.each(cases)('%s: an annotation at the line and column the message names', (_name, text) => {
    let error: unknown
    try {
      parse(text)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(FileConfigurationError)
    const { location, message } = error as FileConfigurationError
    const at = /^\.github\/conveyor\.yml(?::(\d+):(\d+))?:/.exec(message)
    expect(at, message).not.toBeNull()
    expect(location).toEqual({
      file: F,
      line: Number(at![1] ?? 1),
      col: Number(at![2] ?? 1)
    })
  })
})

describe('parseServices: errors quote only a short prefix of the file', () => {
  const secret = 'S3CRET'.repeat(40)
  it.each([
    ['a scalar document', `TOKEN=${secret}\0HOME=/root\0`],
    ['a huge unknown key', `${secret}: 1\n`],
    ['a huge service name', `services:\n  "bad name ${secret}": { path: a }\n`],
    ['a huge value', `services:\n  a: { path: a, image: "Up ${secret}" }\n`],
    ['a huge unknown key of a service', `services:\n  a: { path: a, ${secret}: 1 }\n`],
    ['a huge dependency', `services:\n  a: { path: a, depends-on: [x${secret}] }\n`],
    ['bad YAML in a huge line', `services: [${secret}\n`]
  ])('%s', (_name, text) => {
    const message = errorOf(() => parse(text))
    expect(message.length).toBeLessThan(400)
    expect(message).not.toContain(secret.slice(0, 80))
    // eslint-disable-next-line no-control-regex -- no raw control character reaches the log
    expect(message).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/)
  })
})

describe('docs/services-file.md: the reference covers every key, and its example parses', () => {
  const doc = readFileSync(
    join(import.meta.dirname, '..', '..', '..', '..', 'docs', 'services-file.md'),
    'utf8'
  )
  /** The keys a mapping accepts, as the parser's "unknown key" error lists them. */
  const keysOf = (text: string): string[] =>
    /expected one of (.*)$/.exec(errorOf(() => parseServices(text, F)))![1]!.split(', ')

  it.each([
    ['top level', 'zzz: 1\n', ''],
    ['defaults', 'defaults: { zzz: 1 }\n', 'defaults.'],
    ['a service', 'services:\n  a: { path: a, zzz: 1 }\n', ''],
    ['deploy', 'services:\n  a: { path: a, deploy: { zzz: 1 } }\n', 'deploy.']
  ])('%s: every key has a row', (_label, text, prefix) => {
    const keys = keysOf(text)
    expect(keys.length).toBeGreaterThan(1)
    for (const key of keys)
      expect(doc, key).toMatch(new RegExp(`^\\| \`${prefix}${key}\` +\\|`, 'm'))
  })

  it('the example is a valid services file', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!
    const c = parseServices(example, F)
    expect(c.services.map(s => s.name)).toEqual(['cart', 'money-lib'])
    expect(c.services[1]!.path).toBe('libs/money')
  })
})
