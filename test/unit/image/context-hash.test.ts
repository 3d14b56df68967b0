import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  readFileSync,
  writeFileSync,
  chmodSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { authConfigJson, removeAuthDir, writeAuthDir } from '../../../src/image/auth-dir.js'
import {
  contextFiles,
  contextTag,
  hashBuildInputs,
  isIgnored,
  parseDockerignore,
  type HashInputs
} from '../../../src/image/context-hash.js'
import { baseImages, resolveBaseDigests } from '../../../src/image/base-images.js'
import { secrets } from '../../../src/core/secrets.js'

const dirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'conveyor-ctx-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function write(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), content)
  }
}

describe('.dockerignore', () => {
  const cases: [string, string, boolean][] = [
    ['*.md', 'README.md', true],
    ['*.md', 'docs/README.md', false],
    ['**/*.md', 'docs/README.md', true],
    ['node_modules', 'node_modules/x/index.js', true],
    ['/build', 'build/out.o', true],
    ['./build/', 'build/out.o', true],
    ['temp?', 'temp1', true],
    ['temp?', 'temp12', false],
    ['.git', '.git/HEAD', true],
    ['*\n!keep.md', 'keep.md', false],
    ['*\n!keep.md', 'other.md', true],
    ['docs\n!docs/api.md', 'docs/api.md', false],
    ['!x\nx', 'x', true],
    ['# comment\n\n  *.log  ', 'a.log', true],
    ['{a,b}', 'a', false]
  ]
  it.each(cases)('%j on %s -> %s', (text, path, ignored) => {
    expect(isIgnored(path, parseDockerignore(text))).toBe(ignored)
  })
})

const inputs = (over: Partial<HashInputs> = {}): HashInputs => ({
  dockerfileContent: 'FROM scratch\nCOPY . /\n',
  buildArgs: new Map([['A', '1']]),
  platforms: ['linux/amd64'],
  baseDigests: [],
  ...over
})

describe('content hash of the build inputs', () => {
  it('is stable and changes with every input', async () => {
    const ctx = tmp()
    write(ctx, { 'a.txt': 'a', 'src/b.txt': 'b', 'notes.md': 'x', '.dockerignore': '*.md\n' })
    const base = (await hashBuildInputs(ctx, inputs())).hash
    expect((await hashBuildInputs(ctx, inputs())).hash).toBe(base)
    const variants: HashInputs[] = [
      inputs({ dockerfileContent: 'FROM scratch\n' }),
      inputs({ buildArgs: new Map([['A', '2']]) }),
      inputs({ buildArgs: { A: '1', B: '' } }),
      inputs({ target: 'prod' }),
      inputs({ platforms: ['linux/arm64'] }),
      inputs({ labels: new Map([['team', 'x']]) }),
      inputs({ baseDigests: [{ ref: 'alpine:3', digest: 'sha256:1' }] })
    ]
    const hashes = await Promise.all(variants.map(v => hashBuildInputs(ctx, v)))
    for (const h of hashes) expect(h.hash).not.toBe(base)
    expect(new Set(hashes.map(h => h.hash)).size).toBe(variants.length)
    // An ignored file does not count; a context file does.
    writeFileSync(join(ctx, 'notes.md'), 'changed')
    expect((await hashBuildInputs(ctx, inputs())).hash).toBe(base)
    writeFileSync(join(ctx, 'src/b.txt'), 'changed')
    expect((await hashBuildInputs(ctx, inputs())).hash).not.toBe(base)
  })

  it('hashes a listing started earlier exactly as its own, and hashes the files as they are then', async () => {
    const ctx = tmp()
    write(ctx, { 'a.txt': 'a', 'notes.md': 'x', '.dockerignore': '*.md\n' })
    const own = await hashBuildInputs(ctx, inputs())
    const listing = contextFiles(ctx)
    expect(await hashBuildInputs(ctx, inputs({ files: listing }))).toEqual(own)
    // The listing names the files; their content is read when the hash is made.
    const early = contextFiles(ctx)
    writeFileSync(join(ctx, 'a.txt'), 'changed')
    const later = await hashBuildInputs(ctx, inputs({ files: early }))
    expect(later.hash).toBe((await hashBuildInputs(ctx, inputs())).hash)
    expect(later.hash).not.toBe(own.hash)
  })

  it('sees the exec bit and renames', async () => {
    const ctx = tmp()
    write(ctx, { 'run.sh': 'echo' })
    const before = (await hashBuildInputs(ctx, inputs())).hash
    chmodSync(join(ctx, 'run.sh'), 0o755)
    const exec = (await hashBuildInputs(ctx, inputs())).hash
    expect(exec).not.toBe(before)
    execFileSync('mv', [join(ctx, 'run.sh'), join(ctx, 'start.sh')])
    expect((await hashBuildInputs(ctx, inputs())).hash).not.toBe(exec)
  })

  it('in a git work tree: tracked and untracked-not-ignored files, not .gitignored ones', async () => {
    const repo = tmp()
    write(repo, {
      'svc/a/Dockerfile': 'FROM scratch',
      'svc/a/app.js': 'x',
      'svc/a/new.js': 'untracked',
      'svc/a/dist/out.js': 'built',
      '.gitignore': 'dist/\n',
      'other/file': 'outside the context'
    })
    const g = (...a: string[]): void => {
      execFileSync('git', a, { cwd: repo, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } })
    }
    g('init', '-q')
    g('add', 'svc/a/Dockerfile', 'svc/a/app.js', '.gitignore')
    const { files, git } = await contextFiles(join(repo, 'svc', 'a'))
    expect(git).toBe(true)
    expect(files).toEqual(['Dockerfile', 'app.js', 'new.js'])
  })

  it('outside git: every file, sorted, without .git', async () => {
    const ctx = tmp()
    write(ctx, { 'b/c.txt': '1', 'a.txt': '2', 'ä ö.txt': '3' })
    const { files, git } = await contextFiles(ctx)
    expect(git).toBe(false)
    expect(files).toEqual(['a.txt', 'b/c.txt', 'ä ö.txt'])
  })
})

describe('base images of a Dockerfile', () => {
  it.each([
    ['FROM alpine:3.20\nRUN x', {}, ['alpine:3.20']],
    ['FROM scratch\nCOPY a /', {}, []],
    [
      'FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM gcr.io/distroless/static\nCOPY --from=build /a /a',
      {},
      ['golang:1.22', 'gcr.io/distroless/static']
    ],
    ['ARG BASE=alpine:3\nFROM ${BASE}', {}, ['alpine:3']],
    ['ARG BASE=alpine:3\nFROM ${BASE}', { BASE: 'debian:12' }, ['debian:12']],
    ['ARG V\nFROM node:${V:-20}-slim', {}, ['node:20-slim']],
    [
      'FROM a AS one\nFROM one\nCOPY --from=0 /x /x\nCOPY --from=busybox:1 /bin/sh /sh',
      {},
      ['a', 'busybox:1']
    ],
    ['# FROM commented\nFROM \\\n  b:1', {}, ['b:1']],
    ['from lower:1 as Stage\nFROM stage', {}, ['lower:1']]
  ])('%j', (text, args, expected) => {
    expect(baseImages(text, args as Record<string, string>)).toEqual(expected)
  })
})

describe('auth file', () => {
  it('is 0600 in a 0700 dir, holds the base64 pair, registers it, and is removed', () => {
    const base = tmp()
    const a = writeAuthDir(base, {
      registry: '127.0.0.1:5000',
      username: 'u',
      password: 'pa55-word-xyz',
      ca: '-----BEGIN CERTIFICATE-----\n'
    })
    expect(statSync(a.dir).mode & 0o777).toBe(0o700)
    expect(statSync(a.configFile!).mode & 0o777).toBe(0o600)
    const json = JSON.parse(readFileSync(a.configFile!, 'utf8')) as {
      auths: Record<string, { auth: string }>
    }
    const auth = json.auths['127.0.0.1:5000']!.auth
    expect(Buffer.from(auth, 'base64').toString()).toBe('u:pa55-word-xyz')
    expect(secrets.redact(`x ${auth} y`)).toBe('x *** y')
    expect(readFileSync(join(a.certDir!, 'ca.crt'), 'utf8')).toContain('BEGIN CERTIFICATE')
    expect(removeAuthDir(a.dir)).toBe(true)
    expect(removeAuthDir(a.dir)).toBe(false)
  })
  it('uses the Docker Hub key for docker.io', () => {
    expect(authConfigJson('docker.io', 'u', 'another-secret')).toContain(
      'https://index.docker.io/v1/'
    )
  })
  it('writes an empty auths without a password', () => {
    const a = writeAuthDir(tmp(), { registry: 'r' })
    expect(a.configFile).toBeUndefined()
  })
})

describe('contextTag', () => {
  it('makes the context tag from a hash, with or without its algorithm', () => {
    expect(contextTag(`sha256:${'ab'.repeat(32)}`)).toBe(`ctx-${'ab'.repeat(32)}`)
    expect(contextTag('cd'.repeat(32))).toBe(`ctx-${'cd'.repeat(32)}`)
  })
})

describe('base image digests', () => {
  const own = { registry: '127.0.0.1:9' }
  it('takes a pinned digest as is, asks the builder for local images, names what it cannot resolve', async () => {
    const pinned = `alpine@sha256:${'a'.repeat(64)}`
    const asked: string[] = []
    const r = await resolveBaseDigests(
      [pinned, 'localhost/base:1', '127.0.0.1:9/team/app:2'],
      own,
      {
        timeoutMs: 2000,
        local: async ref => {
          asked.push(ref)
          return ref === 'localhost/base:1' ? `sha256:${'b'.repeat(64)}` : undefined
        }
      }
    )
    expect(r.resolved).toEqual([
      { ref: pinned, digest: `sha256:${'a'.repeat(64)}` },
      { ref: 'localhost/base:1', digest: `sha256:${'b'.repeat(64)}` }
    ])
    expect(r.unresolved).toHaveLength(1)
    expect(r.unresolved[0]!.ref).toBe('127.0.0.1:9/team/app:2')
    expect(r.unresolved[0]!.reason).toMatch(/unreachable/)
    // The pinned one needed neither the network nor the builder.
    expect(asked).toEqual(['localhost/base:1', '127.0.0.1:9/team/app:2'])
  })
})
