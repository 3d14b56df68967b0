/**
 * The pure parts of GitOps deploy: targets and images parsing, the repository input,
 * commit message and trailers, the monotonic guard's verdicts, push error classes,
 * the leak scan, and the back-off.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { getInputs, parseRepository } from '../../../../src/actions/deploy/inputs.js'
import {
  ConfigRepo,
  authHeader,
  classifyPush,
  isStalled,
  lowSpeedArgs,
  remoteLabel
} from '../../../../src/deploy/gitops/config-repo.js'
import {
  branchRows,
  commitMessage,
  guardVerdict,
  parseDeployLog,
  parseTrailers,
  renderTemplate,
  TRAILER
} from '../../../../src/deploy/gitops/message.js'
import { sparsePatterns } from '../../../../src/deploy/gitops/edit.js'
import { scanOutgoing } from '../../../../src/deploy/gitops/leak-scan.js'
import {
  parseTarget,
  serviceTargets,
  updatesFromImages,
  updatesFromResults
} from '../../../../src/deploy/gitops/updates.js'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'
import { memoryLogger } from '../../../../src/core/logger.js'
import { SecretRegistry, secrets } from '../../../../src/core/secrets.js'
import type { Service } from '../../../../src/model/services/config.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('parseTarget', () => {
  it.each([
    ['kustomize:overlays/prod', { kind: 'kustomize', dir: 'overlays/prod' }],
    ['kustomize: ./overlays/prod/', { kind: 'kustomize', dir: 'overlays/prod' }],
    ['manifests:apps/**/*.yaml', { kind: 'manifests', glob: 'apps/**/*.yaml' }],
    [
      'helm:charts/shop/values.yaml:image.tag',
      { kind: 'helm', file: 'charts/shop/values.yaml', key: 'image.tag' }
    ],
    [
      'helm:values.yaml:cart.image=ghcr.io/acme/cart',
      { kind: 'helm', file: 'values.yaml', key: 'cart.image', name: 'ghcr.io/acme/cart' }
    ]
  ])('%s', (line, expected) => {
    expect(parseTarget(line)).toEqual(expected)
  })

  it.each([
    'kustomize:',
    'kustomize:../other',
    'helm:values.yaml',
    'helm:values.yaml:a..b',
    'docker:x',
    '/abs',
    'manifests:../x/*.yaml'
  ])('rejects %j naming the input', line => {
    expect(() => parseTarget(line)).toThrow(ConfigurationError)
    expect(() => parseTarget(line)).toThrow(/input "targets"/)
  })

  it('takes per-service targets from the services file', () => {
    const s = {
      name: 'cart',
      deploy: { kustomize: 'apps/cart', helmValues: 'values.yaml', key: 'cart.image' }
    } as Service
    expect(serviceTargets(s)).toEqual([
      { kind: 'kustomize', dir: 'apps/cart' },
      { kind: 'helm', file: 'values.yaml', key: 'cart.image' }
    ])
  })
})

describe('sparsePatterns', () => {
  it('covers every target under the path, rooted', () => {
    expect(
      sparsePatterns('envs', [
        { kind: 'kustomize', dir: 'overlays/prod' },
        { kind: 'helm', file: 'values.yaml', key: 'image' },
        { kind: 'manifests', glob: 'apps/**/*.yaml' }
      ])
    ).toEqual([
      '/envs/overlays/prod/*',
      // the directory's own entry: a symlink there is checked out (and then refused)
      '/envs/overlays/prod',
      '/envs/values.yaml',
      '/envs/apps/**/*.yaml'
    ])
    expect(sparsePatterns('.', [{ kind: 'kustomize', dir: '.' }])).toEqual(['/*'])
    expect(sparsePatterns('.', [])).toBeUndefined()
  })
})

describe('updates', () => {
  it('parses images lines with registry ports and digests', () => {
    const [u] = updatesFromImages([`cart=host:5000/team/app:1.2@${DIGEST}`], [], undefined)
    expect(u).toMatchObject({
      service: 'cart',
      ref: `host:5000/team/app:1.2@${DIGEST}`,
      parsed: { registry: 'host:5000', name: 'host:5000/team/app', tag: '1.2', digest: DIGEST }
    })
    expect(u!.names).toEqual(['cart', 'host:5000/team/app'])
  })

  it.each([['cart'], ['=app:1'], ['cart=app'], ['cart=App:1'], ['cart=app:1 x']])(
    'rejects images line %j',
    line => {
      expect(() => updatesFromImages([line], [], undefined)).toThrow(/input "images"/)
    }
  )

  it('a huge or malformed line is refused with a bounded message', () => {
    const huge = `cart=ghcr.io/acme/cart:${'1'.repeat(120 * 1024)}`
    expect(() => updatesFromImages([huge], [], undefined)).toThrow(
      /^input "images": got "cart=ghcr\.io\/acme\/cart:1+… \(122903 characters\)", expected name=reference lines of at most 1024 characters/
    )
    const long = `cart=ghcr.io/acme/cart:${'1'.repeat(900)}`
    let message = ''
    try {
      updatesFromImages([long], [], undefined)
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/^input "images": got .*\(invalid tag "1+… \(900 characters\)"\)$/)
    expect(message.length).toBeLessThan(500)
    expect(() => updatesFromImages(['cart=app:1 x'], [], undefined)).toThrow(
      /\(contains whitespace\)$/
    )
  })

  it('rejects a name given twice', () => {
    expect(() => updatesFromImages(['a=x:1', 'a=x:2'], [], undefined)).toThrow(/each name once/)
  })

  it('builds references from results: image, its tag and the digest', () => {
    const [u] = updatesFromResults(
      [
        {
          version: 1,
          service: 'cart',
          image: 'ghcr.io/acme/cart',
          digest: DIGEST,
          tags: ['ghcr.io/acme/cart:main', 'ghcr.io/acme/cart:sha-abc'],
          reused: false,
          platforms: ['linux/amd64'],
          source: { repository: 'acme/shop', sha: 'f'.repeat(40), ref: 'refs/heads/main' },
          createdAt: '2026-11-20T10:00:00Z'
        }
      ],
      []
    )
    expect(u!.ref).toBe(`ghcr.io/acme/cart:main@${DIGEST}`)
    expect(u!.source).toEqual({
      repository: 'acme/shop',
      sha: 'f'.repeat(40),
      time: '2026-11-20T10:00:00Z',
      runUrl: undefined
    })
  })
})

describe('parseRepository', () => {
  afterEach(() => undefined)
  it.each([
    [
      'acme/shop-config',
      { url: 'https://github.com/acme/shop-config.git', slug: 'acme/shop-config' }
    ],
    [
      'https://ghe.example.com/acme/cfg.git',
      { url: 'https://ghe.example.com/acme/cfg.git', slug: 'acme/cfg' }
    ],
    ['file:///srv/git/cfg.git', { url: 'file:///srv/git/cfg.git', slug: undefined }],
    [
      'ssh://git@github.com/acme/cfg.git',
      { url: 'ssh://git@github.com/acme/cfg.git', slug: undefined }
    ]
  ])('%s', (value, expected) => {
    expect(parseRepository(value)).toEqual(expected)
  })

  it('refuses credentials in the URL and never echoes them', () => {
    let message = ''
    try {
      parseRepository('https://x-access-token:ghp_secretvalue123@github.com/acme/cfg.git')
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/credentials in the URL are not accepted/)
    expect(message).not.toContain('ghp_secretvalue123')
    expect(secrets.leaks('ghp_secretvalue123')).toBe(true)
  })

  it.each(['ftp://x/y', 'not a url', 'https://github.com/acme/cfg?x=1'])('rejects %j', v => {
    expect(() => parseRepository(v)).toThrow(/input "repository"/)
  })
})

describe('commit message and trailers', () => {
  const rows = [
    {
      service: 'cart',
      old: 'ghcr.io/acme/cart:1.0',
      new: `ghcr.io/acme/cart:1.1@${DIGEST}`,
      files: ['a.yaml']
    }
  ]
  const source = { repository: 'acme/shop', sha: 'b'.repeat(40), time: '2026-11-20T10:00:00Z' }

  it('renders the default template and appends trailers', () => {
    const msg = commitMessage({
      rows,
      source,
      runUrl: 'https://github.com/acme/shop/actions/runs/1',
      environment: 'prod'
    })
    expect(msg.split('\n')[0]).toBe(`deploy(prod): cart cart:1.0 → cart:1.1@${'a'.repeat(12)}`)
    expect(msg).toContain(`- cart: ghcr.io/acme/cart:1.0 → ghcr.io/acme/cart:1.1@${DIGEST}`)
    expect(msg).toContain(`Source: acme/shop@${'b'.repeat(40)}`)
    const t = parseTrailers(msg)
    expect(t.get(TRAILER.services)).toBe('cart')
    expect(t.get(TRAILER.commit)).toBe('b'.repeat(40))
    expect(t.get(TRAILER.time)).toBe('2026-11-20T10:00:00Z')
    expect(t.get(TRAILER.run)).toBe('https://github.com/acme/shop/actions/runs/1')
  })

  it('renders a custom template, leaving unknown placeholders', () => {
    expect(
      renderTemplate('chore: {services} {nope} {short_sha}', { services: 'a, b', short_sha: 'abc' })
    ).toBe('chore: a, b {nope} abc')
  })

  it('reads deploy records from git log output, newest first', () => {
    const log = [
      `c2\x1fdeploy: x\n\nConveyor-Services: cart, frontend\nConveyor-Source-Commit: s2\nConveyor-Source-Time: t2\n\x1e`,
      `\nc1\x1fmanual edit\n\x1e`,
      `\nc0\x1fdeploy\n\nConveyor-Services: cart\nConveyor-Source-Repository: acme/shop\nConveyor-Source-Commit: s0\n\x1e`
    ].join('')
    expect(parseDeployLog(log)).toEqual([
      {
        commit: 'c2',
        services: ['cart', 'frontend'],
        repository: undefined,
        sha: 's2',
        time: 't2'
      },
      { commit: 'c0', services: ['cart'], repository: 'acme/shop', sha: 's0', time: undefined }
    ])
  })
})

describe('branchRows', () => {
  it('merges the updates recorded on a pull request branch with this run: first old, latest new', () => {
    const msg = (rows: { service: string; old?: string; new: string; files: string[] }[]): string =>
      commitMessage({ rows })
    const log = [
      `c2\x1f${msg([{ service: 'cart', old: 'c:2', new: 'c:3', files: ['k.yaml'] }])}\x1e`,
      `\nc1\x1f${msg([
        { service: 'cart', old: 'c:1', new: 'c:2', files: ['k.yaml'] },
        { service: 'web', new: 'w:1', files: ['k.yaml'] }
      ])}\x1e`
    ].join('')
    const earlier = parseDeployLog(log)
    expect(earlier[1]!.updates).toEqual([
      { service: 'cart', old: 'c:1', new: 'c:2' },
      { service: 'web', new: 'w:1' }
    ])
    expect(
      branchRows(earlier, [{ service: 'web', old: 'w:1', new: 'w:2', files: ['v.yaml'] }])
    ).toEqual([
      { service: 'cart', old: 'c:1', new: 'c:3', files: [] },
      { service: 'web', old: undefined, new: 'w:2', files: ['v.yaml'] }
    ])
  })
})

describe('guardVerdict', () => {
  const ours = { repository: 'acme/shop', sha: 'a'.repeat(40), time: '2026-11-20T10:00:00Z' }
  const rec = (sha: string, time?: string, repository = 'acme/shop') => ({
    commit: 'c',
    services: ['cart'],
    sha,
    time,
    repository
  })
  it.each([
    ['no record', undefined, 'unknown', true],
    ['same commit', rec('a'.repeat(40)), 'same', true],
    ['ours is an ancestor of the deployed one', rec('b'.repeat(40)), 'older', false],
    [
      'ours descends from the deployed one',
      rec('b'.repeat(40), '2030-01-01T00:00:00Z'),
      'newer',
      true
    ],
    [
      'unknown ancestry, deployed is later',
      rec('b'.repeat(40), '2026-11-20T11:00:00Z'),
      'unknown',
      false
    ],
    [
      'unknown ancestry, deployed is earlier',
      rec('b'.repeat(40), '2026-11-20T09:00:00Z'),
      'unknown',
      true
    ],
    ['diverged, deployed is later', rec('b'.repeat(40), '2026-11-21T00:00:00Z'), 'diverged', false],
    ['unknown ancestry, no times', rec('b'.repeat(40)), 'unknown', true],
    [
      'another source repository',
      rec('b'.repeat(40), '2030-01-01T00:00:00Z', 'acme/other'),
      'unknown',
      true
    ]
  ] as const)('%s → allow %s', (_name, record, ancestry, allow) => {
    const v = guardVerdict('cart', ours, record, ancestry)
    expect(v.allow).toBe(allow)
    if (!allow) expect(v.reason).toMatch(/refusing to roll back/)
  })
})

describe('classifyPush', () => {
  it.each([
    [
      ' ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs',
      'rejected'
    ],
    [' ! [remote rejected] HEAD -> main (failed to lock)', 'rejected'],
    ['error: cannot lock ref refs/heads/main: is at x but expected y', 'rejected'],
    ['fatal: unable to access ...: The requested URL returned error: 403', 'permission'],
    ['remote: Permission to acme/cfg.git denied to bot.', 'permission'],
    ['fatal: Authentication failed for https://github.com/acme/cfg.git', 'auth'],
    [' ! [remote rejected] HEAD -> main (pre-receive hook declined)', 'other'],
    ['fatal: the remote end hung up unexpectedly', 'other']
  ])('%j → %s', (stderr, kind) => {
    expect(classifyPush(stderr).kind).toBe(kind)
  })
})

describe('git network bounds', () => {
  it('lowSpeedArgs: 1000 bytes/s for 30 s, or the time limit when shorter', () => {
    expect(lowSpeedArgs(600_000)).toEqual([
      '-c',
      'http.lowSpeedLimit=1000',
      '-c',
      'http.lowSpeedTime=30'
    ])
    expect(lowSpeedArgs(8_000)[3]).toBe('http.lowSpeedTime=8')
    expect(lowSpeedArgs(200)[3]).toBe('http.lowSpeedTime=1')
  })
  it.each([
    ['https://github.com/acme/config.git', 'github.com'],
    ['http://127.0.0.1:8080/config.git', '127.0.0.1:8080'],
    ['ssh://git@git.example.com:2222/acme/config.git', 'git.example.com:2222'],
    ['file:///srv/git/config.git', '/srv/git/config.git']
  ])('remoteLabel(%s) = %s', (url, label) => {
    expect(remoteLabel(url)).toBe(label)
  })
  it('isStalled recognises the HTTP transport giving up', () => {
    expect(
      isStalled(
        "fatal: unable to access 'http://h/c.git/': Operation too slow. Less than 1000 bytes/sec transferred the last 30 seconds"
      )
    ).toBe(true)
    expect(isStalled('error: RPC failed; curl 28 Operation timed out')).toBe(true)
    expect(isStalled('fatal: repository not found')).toBe(false)
  })
  it('remoteError names the remote host and the limit, never the token', () => {
    const token = 'ghs_remoteErrorToken0123456789'
    const repo = new ConfigRepo(
      '/nonexistent',
      'http://127.0.0.1:9/config.git',
      authHeader(token),
      { name: 'n', email: 'n@e' },
      memoryLogger(),
      20_000
    )
    const timedOut = repo.remoteError({ stderr: '', timedOut: true }, 'read').message
    expect(timedOut).toBe(
      'git could not read the config repository at 127.0.0.1:9: no complete answer within 20s (input "timeout"), so git was stopped.'
    )
    const slow = repo.remoteError(
      { stderr: `fatal: Operation too slow (${token})`, timedOut: false },
      'write'
    ).message
    expect(slow).toMatch(
      /^git could not write the config repository at 127\.0\.0\.1:9: the server stopped answering \(less than 1000 bytes\/s for 20s\)/
    )
    expect(slow).not.toContain(token)
  })
})

describe('authHeader', () => {
  it('basic uses x-access-token:<token> and registers every derived form', () => {
    const token = 'ghs_0123456789abcdefXYZ'
    const h = authHeader(token)
    expect(h).toBe(
      `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`
    )
    expect(secrets.redact(h)).not.toContain(
      Buffer.from(`x-access-token:${token}`).toString('base64')
    )
    expect(authHeader(token, 'bearer')).toBe(`AUTHORIZATION: bearer ${token}`)
  })
})

describe('scanOutgoing', () => {
  const reg = new SecretRegistry()
  const token = 'tok_9f8e7d6c5b4a3210'
  reg.add(token)
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  const clean = {
    files: new Map([['a.yaml', 'image: x:1\n']]),
    diff: '+image: x:1',
    message: 'deploy',
    branch: 'main'
  }

  it('finds nothing in a clean change', () => {
    expect(scanOutgoing(clean, reg)).toEqual([])
  })

  it.each([
    ['plain', token],
    ['base64', b64(token)],
    ['double base64', b64(b64(token))],
    ['url-encoded inside a longer string', `prefix-${encodeURIComponent(token)}-suffix`]
  ])('finds the %s form with file and line', (_name, form) => {
    const files = new Map([['apps/x.yaml', `a: 1\nb: 2\nc: "${form}"\n`]])
    expect(scanOutgoing({ ...clean, files }, reg)).toContainEqual({
      where: 'file apps/x.yaml',
      line: 3
    })
  })

  it('scans message, branch, PR text and paths', () => {
    const hits = scanOutgoing(
      {
        ...clean,
        files: new Map([[`dir/${token}.yaml`, 'x: 1\n']]),
        message: `deploy\n\n${b64(b64(token))}`,
        branch: `deploy/${token}`,
        prTitle: 'ok',
        prBody: `body ${b64(token)}`
      },
      reg
    )
    expect(hits.map(h => h.where)).toEqual([
      'a changed file path',
      'commit message',
      'branch name',
      'pull request body'
    ])
    expect(JSON.stringify(hits)).not.toContain(token)
  })
})

describe('getInputs: the services file', () => {
  const base = {
    repository: 'acme/config',
    images: 'cart=ghcr.io/acme/cart:1.2.3',
    targets: 'kustomize:overlays/prod'
  }
  const ws = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-deploy-inputs-'))
    made.push(dir)
    return dir
  }
  const made: string[] = []
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true })
  })
  const read = (workspace: string, over: Record<string, string>) =>
    getInputs(new InputReader(mapInputs({ ...base, ...over })), undefined, {
      GITHUB_WORKSPACE: workspace
    })

  it.each([
    ['a traversal', `${'../'.repeat(12)}etc/passwd`],
    ['an absolute path outside', '/etc/passwd']
  ])('refuses %s before reading it', async (_why, config) => {
    await expect(read(ws(), { config })).rejects.toThrow(
      /^input "config": ".*etc\/passwd" is outside the workspace /
    )
  })

  it('refuses a services file symlinked out of the workspace', async () => {
    const dir = ws()
    mkdirSync(join(dir, '.github'))
    symlinkSync('/etc/passwd', join(dir, '.github', 'conveyor.yml'))
    await expect(read(dir, {})).rejects.toThrow(
      /^input "config": "\.github\/conveyor\.yml" is outside the workspace .* \(through a symlink\)$/
    )
  })

  it('quotes at most a short prefix of the file in a parse error', async () => {
    const dir = ws()
    mkdirSync(join(dir, '.github'))
    writeFileSync(join(dir, '.github', 'conveyor.yml'), `${'x'.repeat(5000)}\n`)
    const error = await read(dir, {}).then(
      () => undefined,
      (e: unknown) => e as Error
    )
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error!.message).toContain('.github/conveyor.yml')
    expect(error!.message.length).toBeLessThan(300)
  })

  it('reads a services file inside the workspace', async () => {
    const dir = ws()
    mkdirSync(join(dir, '.github'))
    writeFileSync(
      join(dir, '.github', 'conveyor.yml'),
      'services:\n  cart:\n    path: src/cart\n    deploy: { kustomize: overlays/cart }\n'
    )
    const inputs = await read(dir, { targets: '' })
    expect(inputs.updates[0]!.targets).toEqual([{ kind: 'kustomize', dir: 'overlays/cart' }])
  })
})
