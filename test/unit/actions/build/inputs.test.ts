import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { getInputs } from '../../../../src/actions/build/inputs.js'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'
import { secrets } from '../../../../src/core/secrets.js'

const dir = mkdtempSync(join(tmpdir(), 'conveyor-build-inputs-'))
writeFileSync(join(dir, 'npmrc'), 'x')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const read = (values: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  getInputs(new InputReader(mapInputs(values)), { GITHUB_WORKSPACE: dir, ...env })

describe('build inputs', () => {
  it('accepts the PEM text of a CA certificate for registry-ca-cert', () => {
    const ca = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'fixtures', 'tls', 'test-ca.pem'),
      'utf8'
    )
    expect(read({ service: 'cart', 'registry-ca-cert': ca }).ca).toBe(ca)
  })

  it('defaults', () => {
    const i = read({ service: 'cart' })
    expect(i).toMatchObject({
      service: 'cart',
      config: '.github/conveyor.yml',
      insecure: false,
      tags: [],
      platforms: [],
      cache: 'registry',
      push: true,
      backend: 'auto',
      reuse: true,
      mode: 'build',
      timeoutMs: 3_600_000
    })
  })

  it('reads everything and registers the password with its user pair', () => {
    const password = 'hunter2-but-longer'
    const i = read(
      {
        context: 'svc/a',
        image: 'ghcr.io/acme/a',
        'registry-password': password,
        tags: 'type=sha\ntype=raw,value=v1',
        labels: 'team=shop',
        'build-args': 'A=1\nB=two words',
        secrets: 'id=npm,env=NPM_TOKEN\nid=rc,src=npmrc',
        platforms: 'linux/amd64,linux/arm64',
        backend: 'buildah',
        reuse: 'false',
        network: 'host'
      },
      { GITHUB_ACTOR: 'octocat', NPM_TOKEN: 'npm-token-value-123' }
    )
    expect(i.username).toBe('octocat')
    expect(i.buildArgs.get('B')).toBe('two words')
    expect(i.secrets).toEqual([
      { id: 'npm', env: 'NPM_TOKEN', src: undefined },
      { id: 'rc', env: undefined, src: join(dir, 'npmrc') }
    ])
    expect(i.platforms).toEqual(['linux/amd64', 'linux/arm64'])
    const pair = Buffer.from(`octocat:${password}`).toString('base64')
    expect(secrets.redact(`${password} ${pair}`)).toBe('*** ***')
    // The value of an env secret is masked too.
    expect(secrets.redact('npm-token-value-123')).toBe('***')
  })

  const bad: [string, Record<string, string>, RegExp][] = [
    ['nothing to build', {}, /"service" is required, or else both "context" and "image"/],
    ['image with a tag', { context: '.', image: 'ghcr.io/a/b:1' }, /input "image".*without a tag/],
    ['upper-case image', { context: '.', image: 'ghcr.io/A/b' }, /input "image"/],
    ['bad service name', { service: '../etc' }, /input "service"/],
    ['bad platform', { service: 'a', platforms: 'amd64' }, /input "platforms": got "amd64"/],
    ['bad backend', { service: 'a', backend: 'kaniko' }, /input "backend": got "kaniko"/],
    ['bad tag rule', { service: 'a', tags: 'type=nope' }, /input "tags" line 1/],
    [
      'bad tag rule, numbered as written (blank and comment lines count)',
      { service: 'a', tags: 'type=sha\n\n# the version\ntype=semver' },
      /input "tags" line 4/
    ],
    [
      'bad flavor latest',
      { service: 'a', flavor: 'latest=sometimes' },
      /input "flavor" line 1: got "latest=sometimes", expected latest=auto, latest=true or latest=false/
    ],
    [
      'unknown flavor key',
      { service: 'a', flavor: 'latest=auto\nprefx=v' },
      /input "flavor" line 2: .*did you mean "prefix"/
    ],
    [
      'onlatest without a prefix or suffix',
      { service: 'a', flavor: 'onlatest=true' },
      /input "flavor" line 1: .*onlatest= after a prefix= or suffix=/
    ],
    ['bad dry-run', { service: 'a', 'dry-run': 'yes' }, /input "dry-run": got "yes"/],
    [
      'dry-run with neither service nor image',
      { 'dry-run': 'true' },
      /dry-run: true needs input "service" or "image"/
    ],
    ['secret value inline', { service: 'a', secrets: 'id=x,value=abc' }, /input "secrets"/],
    [
      'missing env secret',
      { service: 'a', secrets: 'id=x,env=NOT_SET_ANYWHERE' },
      /NOT_SET_ANYWHERE, which is not set/
    ],
    [
      'missing file secret',
      { service: 'a', secrets: 'id=x,src=nope.txt' },
      /nope.txt, which does not exist/
    ],
    ['not a PEM', { service: 'a', 'registry-ca-cert': 'hello' }, /input "registry-ca-cert"/],
    [
      'a PEM block holding no certificate',
      {
        service: 'a',
        'registry-ca-cert': '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----'
      },
      /input "registry-ca-cert": got a PEM text of 61 characters \(certificate 1 of 1 does not parse/
    ],
    [
      'merge without digests',
      { service: 'a', mode: 'merge' },
      /"digests" is required with mode: merge/
    ],
    ['bad digest', { service: 'a', mode: 'merge', digests: 'sha256:xyz' }, /input "digests"/],
    ['bad cache ref', { service: 'a', cache: 'Not A Ref' }, /input "cache"/],
    ['bad build-arg key', { service: 'a', 'build-args': '1A=x' }, /input "build-args"/],
    ['bad registry', { service: 'a', registry: 'a b' }, /input "registry"/],
    ['bad network', { service: 'a', network: 'host;rm' }, /input "network"/],
    [
      'config outside the workspace',
      { service: 'a', config: '../../../../etc/passwd' },
      /input "config": got "..\/..\/..\/..\/etc\/passwd", expected a file path inside the workspace/
    ],
    ['config absolute elsewhere', { service: 'a', config: '/etc/passwd' }, /input "config"/],
    [
      'user name with a newline',
      { service: 'a', 'registry-username': 'ci\nadmin' },
      /input "registry-username"/
    ],
    [
      'user name with a colon',
      { service: 'a', 'registry-username': 'ci:x' },
      /input "registry-username"/
    ]
  ]
  it.each(bad)('%s', (_name, values, message) => {
    expect(() => read(values)).toThrow(ConfigurationError)
    expect(() => read(values)).toThrow(message)
  })

  it('reads flavor and dry-run; a dry run needs the image only, not a context', () => {
    const i = read({
      image: 'ghcr.io/acme/a',
      'dry-run': 'true',
      tags: '\ntype=ref,event=branch\n',
      flavor: 'latest=false\nprefix=app-,onlatest=true'
    })
    expect(i.dryRun).toBe(true)
    expect(i.tags).toEqual(['', 'type=ref,event=branch'])
    expect(i.flavor).toEqual(['latest=false', 'prefix=app-,onlatest=true'])
    expect(read({ service: 'a' })).toMatchObject({ dryRun: false, tags: [], flavor: [] })
    // Only comments: the defaults.
    expect(read({ service: 'a', tags: '# none yet\n' }).tags).toEqual([])
  })

  it('a flavor prefix holding a registered secret is refused, naming the input', () => {
    secrets.add('flavor-secret-value-42', { label: 'test' })
    expect(() => read({ service: 'a', flavor: 'prefix=flavor-secret-value-42' })).toThrow(
      /input "flavor": a line holds/
    )
  })

  it('a huge image name gives a short error', () => {
    const huge = `ghcr.io/acme/${'a'.repeat(100_000)}`
    let message = ''
    try {
      read({ context: '.', image: huge })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(
      /^input "image": got ".*… \(100013 characters\)", expected an image name/
    )
    expect(message.length).toBeLessThan(600)
  })

  it('never echoes the password in an error', () => {
    const secret = 'do-not-print-me-42'
    try {
      read({ 'registry-password': secret, context: '.', image: 'BAD IMAGE' })
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).not.toContain(secret)
    }
  })
})

describe('a build-arg, label or tag holding a registered secret is refused, naming the key', () => {
  const password = 'registry-pw-0123456789'
  const base = { context: 'svc/a', image: 'ghcr.io/acme/a', 'registry-password': password }
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  it.each([
    ['build-args plain', { 'build-args': `PW=${password}` }, /^input "build-args": PW holds/],
    [
      'build-args url-encoded',
      { 'build-args': `X=a%2B${encodeURIComponent(password)}` },
      /PW|X holds/
    ],
    ['labels double base64', { labels: `x=${b64(b64(password))}` }, /^input "labels": x holds/],
    ['labels user:password', { labels: `auth=${b64(`octocat:${password}`)}` }, /"labels"/],
    ['tags hex', { tags: `type=raw,value=${Buffer.from(password).toString('hex')}` }, /"tags"/],
    [
      'an env secret of input "secrets" in a build-arg',
      { 'build-args': 'TOKEN=npm-token-value-456', secrets: 'id=npm,env=NPM_TOKEN' },
      /TOKEN holds a secret of 19 characters \(input "secrets" id=npm\)/
    ]
  ])('%s', (_label, inputs, message) => {
    let error: Error | undefined
    try {
      read({ ...base, ...inputs }, { GITHUB_ACTOR: 'octocat', NPM_TOKEN: 'npm-token-value-456' })
    } catch (e) {
      error = e as Error
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error!.message).toMatch(message)
    expect(error!.message).toMatch(
      /Pass secrets with input "secrets" instead \(BuildKit secret mounts/
    )
    expect(secrets.leaks(error!.message)).toBe(false)
  })

  it('values that hold no secret pass', () => {
    const i = read({ ...base, 'build-args': 'A=1', labels: 'team=shop', tags: 'type=raw,value=v1' })
    expect([...i.buildArgs]).toEqual([['A', '1']])
  })
})

describe('registry-ca-cert: PEM text or a PEM file in the workspace, never a file outside', () => {
  it('reads a workspace file, refuses /proc/self/environ and ../ paths without echoing', () => {
    const ca = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'fixtures', 'tls', 'test-ca.pem'),
      'utf8'
    )
    writeFileSync(join(dir, 'ca.pem'), ca)
    expect(read({ service: 'cart', 'registry-ca-cert': 'ca.pem' }).ca).toBe(ca)
    for (const path of ['/proc/self/environ', '../../../../etc/passwd']) {
      expect(() => read({ service: 'cart', 'registry-ca-cert': path })).toThrow(
        /input "registry-ca-cert": ".*" is outside the workspace/
      )
    }
  })
})
