/**
 * The build action end to end with buildah against a real distribution registry
 * (htpasswd + TLS from a test CA): a real build and push, build avoidance (no change:
 * no build, new tags on the same digest; a changed file: a build), labels checked with
 * skopeo, a canary password searched in every channel and in child processes' argv
 * and environment, faults (bad login, failing RUN step, missing Dockerfile, context
 * outside the workspace, unreachable registry) and merge mode.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { sh } from '../support/gitrepo.js'
import { ROOT, runAction, type ActionRun, type RunOptions } from '../support/harness.js'
import { startFaultProxy } from '../support/fault-proxy.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import {
  isolatedBuildahEnv,
  pushBusyboxBase,
  writeTestAuthFile,
  type BuildahEnv
} from '../support/base-image.js'

const PASSWORD = canary('REGPASS')
const USER = 'ci-bot'
/** A password that occurs in every digest: what masking would silently corrupt. */
const SHORT_USER = 'short-bot'
const SHORT_PASSWORD = 'sha256'
const bundle = process.env.CONVEYOR_BUILD_BUNDLE
  ? {
      main: join(process.env.CONVEYOR_BUILD_BUNDLE, 'index.js'),
      post: join(process.env.CONVEYOR_BUILD_BUNDLE, 'post', 'index.js')
    }
  : undefined

let registry: TestRegistry
let buildah: BuildahEnv
let authFile: string
let tmp: string
let baseRef: string

/** Run git in `cwd` (the shared test environment: no global config, a fixed author). */
function git(cwd: string, ...args: string[]): string {
  return sh(cwd, args)
}

/** A git workspace with one service under svc/hello. */
function makeWorkspace(dockerfile: string): string {
  const ws = mkdtempSync(join(tmp, 'ws-'))
  const ctx = join(ws, 'svc', 'hello')
  mkdirSync(ctx, { recursive: true })
  writeFileSync(join(ctx, 'Dockerfile'), dockerfile)
  writeFileSync(join(ctx, 'app.txt'), 'version one\n')
  writeFileSync(join(ctx, 'README.md'), 'docs are ignored\n')
  writeFileSync(join(ctx, '.dockerignore'), '*.md\n')
  git(ws, 'init', '-q', '-b', 'main')
  git(ws, 'add', '-A')
  git(ws, 'commit', '-q', '-m', 'init')
  return ws
}

function skopeo(...args: string[]): string {
  return execFileSync(
    'skopeo',
    [
      args[0]!,
      '--authfile',
      authFile,
      args[0] === 'copy' ? '--src-cert-dir' : '--cert-dir',
      registry.certDir!,
      ...args.slice(1)
    ],
    { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, ...buildah.env } }
  )
}

function inspect(ref: string): { Digest: string; Labels: Record<string, string> } {
  return JSON.parse(skopeo('inspect', `docker://${ref}`)) as {
    Digest: string
    Labels: Record<string, string>
  }
}

function tagsOf(repo: string): string[] {
  try {
    const out = skopeo('list-tags', `docker://${registry.host}/${repo}`)
    return (JSON.parse(out) as { Tags: string[] }).Tags
  } catch (error) {
    // An unknown repository: nothing was ever pushed to it.
    if (/404/.test(String((error as { stderr?: string }).stderr))) return []
    throw error
  }
}

async function build(
  workspace: string,
  inputs: Record<string, string>,
  options: Partial<RunOptions> = {}
): Promise<ActionRun> {
  return runAction('build', {
    workspace,
    // Inside our temp dir, so that afterAll removes it.
    runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
    bundle,
    timeoutMs: 240_000,
    sha: git(workspace, 'rev-parse', 'HEAD'),
    event: { repository: { default_branch: 'main' } },
    ...options,
    env: { ...buildah.env, ...(options.env ?? {}) },
    inputs: {
      context: 'svc/hello',
      'registry-username': USER,
      'registry-password': PASSWORD,
      'registry-ca-cert': registry.caPem!,
      backend: 'buildah',
      cache: 'none',
      ...inputs
    }
  })
}

/**
 * Every channel except the environment of the action's own node process, which the
 * runner itself fills with INPUT_* (as on GitHub); its children are all checked.
 */
function channels(run: ActionRun): Record<string, string> {
  const all = run.channels()
  for (const [label, step] of [
    ['main', run.main],
    ['post', run.post]
  ] as const) {
    step?.processes.forEach((p, i) => {
      if (p.argv[1]?.endsWith('index.js') && p.argv[0]?.endsWith('node')) {
        delete all[`${label}.process[${i}].environ`]
      }
    })
  }
  return all
}

function expectNoLeaks(run: ActionRun): void {
  const leaks = findLeaks(channels(run), [{ value: PASSWORD, user: USER }])
  expect(leaks).toEqual([])
}

function expectCleanPost(run: ActionRun): void {
  expect(run.post?.code).toBe(0)
  const left = Object.keys(run.leftoverFiles()).filter(p => p.includes('registry-auth-'))
  expect(left).toEqual([])
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conveyor-build-e2e-'))
  registry = await startRegistry({ users: { [USER]: PASSWORD, [SHORT_USER]: SHORT_PASSWORD } })
  buildah = isolatedBuildahEnv()
  authFile = writeTestAuthFile(registry.host, USER, PASSWORD)
  baseRef = `${registry.host}/base/busybox:1`
  pushBusyboxBase(baseRef, buildah, { authFile, certDir: registry.certDir })
  if (!bundle) expect(existsSync(join(ROOT, 'dist', 'build', 'index.js'))).toBe(true)
}, 180_000)

afterAll(async () => {
  // Each step on its own: one failing must not leave the others running.
  const steps = [
    () => registry?.stop(),
    () => buildah?.cleanup(),
    () => rmSync(tmp, { recursive: true, force: true })
  ]
  const failures: unknown[] = []
  for (const step of steps)
    await Promise.resolve()
      .then(step)
      .catch(e => failures.push(e))
  if (failures.length > 0) throw failures[0]
})

describe('build with buildah', () => {
  const dockerfile = (from: string) =>
    `FROM ${from}\nRUN echo built > /built.txt\nCOPY app.txt /app.txt\nCMD ["cat", "/app.txt"]\n`
  let ws: string
  let firstDigest: string

  it('builds, pushes with labels and tags, writes the result file, leaks nothing', async () => {
    ws = makeWorkspace(dockerfile(baseRef))
    const run = await build(
      ws,
      { image: `${registry.host}/acme/hello`, labels: 'team=shop' },
      { sampleProcesses: true, env: { SOURCE_DATE_EPOCH: '1700000000' } }
    )
    expect(run.main.stderr + run.main.errors.join('\n')).not.toMatch(/failed/)
    expect(run.main.code).toBe(0)
    const out = run.main.outputs
    expect(out.reused).toBe('false')
    expect(out.backend).toBe('buildah')
    expect(out.digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    const sha7 = git(ws, 'rev-parse', '--short=7', 'HEAD')
    expect(JSON.parse(out.tags!)).toEqual([
      `${registry.host}/acme/hello:main`,
      `${registry.host}/acme/hello:latest`,
      `${registry.host}/acme/hello:sha-${sha7}`
    ])
    firstDigest = out.digest!
    // What the registry really holds.
    const img = inspect(`${registry.host}/acme/hello:main`)
    expect(img.Digest).toBe(firstDigest)
    expect(img.Labels['org.opencontainers.image.title']).toBe('hello')
    expect(img.Labels['org.opencontainers.image.revision']).toBe(git(ws, 'rev-parse', 'HEAD'))
    expect(img.Labels['org.opencontainers.image.source']).toBe('https://github.com/acme/shop')
    expect(img.Labels.team).toBe('shop')
    expect(img.Labels['org.opencontainers.image.version']).toBe('main')
    // SOURCE_DATE_EPOCH fixes the created label.
    expect(img.Labels['org.opencontainers.image.created']).toBe('2023-11-14T22:13:20.000Z')
    expect(out.version).toBe('main')
    // The labels output is exactly what the image carries.
    const labelLines = out.labels!.split('\n')
    expect(labelLines).toContain('org.opencontainers.image.version=main')
    for (const line of labelLines) {
      const at = line.indexOf('=')
      expect(img.Labels[line.slice(0, at)], line).toBe(line.slice(at + 1))
    }
    const tags = tagsOf('acme/hello')
    expect(tags).toContain(`ctx-${out['context-hash']}`)
    expect(inspect(`${registry.host}/acme/hello:ctx-${out['context-hash']}`).Digest).toBe(
      firstDigest
    )
    // The result file for deploy.
    const result = JSON.parse(readFileSync(out['result-file']!, 'utf8')) as Record<string, unknown>
    expect(result).toMatchObject({ service: 'hello', digest: firstDigest, reused: false })
    // The password: masked, in no channel, argv or environment of any child process.
    expect(run.main.masks).toContain(PASSWORD)
    expect(run.main.processes.some(p => p.argv[0]?.endsWith('buildah'))).toBe(true)
    expectNoLeaks(run)
    expectCleanPost(run)
    expect(run.main.summary).toContain('built and pushed')
    expect(run.main.summary).toMatch(/\| Size \| \d+(\.\d)? (B|KiB|MiB) \|/)
    expect(run.main.summary).toMatch(/\| Duration \| \d+\.\d s \|/)
    expect(run.main.summary).toContain(firstDigest)
  }, 240_000)

  it('reuses the image when nothing changed: no build, new tags on the same digest', async () => {
    const run = await build(
      ws,
      { image: `${registry.host}/acme/hello`, labels: 'team=shop' },
      { ref: 'refs/tags/v1.4.2', sampleProcesses: true }
    )
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.reused).toBe('true')
    expect(run.main.outputs.digest).toBe(firstDigest)
    expect(run.main.outputs.backend).toBe('none')
    // No buildah bud or push ran.
    expect(run.main.processes.some(p => p.argv.includes('bud') || p.argv.includes('push'))).toBe(
      false
    )
    for (const tag of ['v1.4.2', '1.4.2', '1.4']) {
      expect(inspect(`${registry.host}/acme/hello:${tag}`).Digest).toBe(firstDigest)
    }
    expect(run.main.summary).toContain('reused (no build)')
    expect(run.main.summary).toMatch(/already in the registry/)
    // A promotion talks to the registry itself: no builder login was ever written.
    expect(run.main.state['auth-dir']).toBeUndefined()
    expect(run.post?.stdout).toContain('no registry login to clean up')
    expectNoLeaks(run)
    expectCleanPost(run)
  }, 240_000)

  it('ignores a change that .dockerignore excludes, builds after a change to a context file', async () => {
    writeFileSync(join(ws, 'svc', 'hello', 'README.md'), 'changed docs\n')
    git(ws, 'commit', '-qam', 'docs')
    const same = await build(ws, {
      image: `${registry.host}/acme/hello`,
      labels: 'team=shop',
      tags: 'type=raw,value=docs'
    })
    expect(same.main.code).toBe(0)
    expect(same.main.outputs.reused).toBe('true')

    writeFileSync(join(ws, 'svc', 'hello', 'app.txt'), 'version two\n')
    git(ws, 'commit', '-qam', 'change')
    const run = await build(ws, {
      image: `${registry.host}/acme/hello`,
      labels: 'team=shop',
      tags: 'type=sha'
    })
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.reused).toBe('false')
    expect(run.main.outputs.digest).not.toBe(firstDigest)
    expect(run.main.summary).toContain('not in the registry')
    const sha7 = git(ws, 'rev-parse', '--short=7', 'HEAD')
    expect(inspect(`${registry.host}/acme/hello:sha-${sha7}`).Digest).toBe(run.main.outputs.digest)
  }, 240_000)

  it('reuse: false forces a build', async () => {
    const run = await build(ws, {
      image: `${registry.host}/acme/hello`,
      labels: 'team=shop',
      tags: 'type=raw,value=forced',
      reuse: 'false'
    })
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.reused).toBe('false')
    expect(run.main.summary).toContain('reuse: false')
  }, 240_000)
})

describe('faults', () => {
  it('a wrong password fails the login with a 401 message and leaks nothing', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    const wrong = canary('WRONGPASS')
    const run = await build(ws, {
      image: `${registry.host}/acme/denied`,
      'registry-password': wrong
    })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toMatch(/rejected the login of user "ci-bot" \(HTTP 401/)
    expect(findLeaks(channels(run), [{ value: wrong, user: USER }])).toEqual([])
    expectCleanPost(run)
  })

  it('a failing RUN step: ::error:: with its last lines, nothing pushed', async () => {
    const ws = makeWorkspace(
      `FROM ${baseRef}\nRUN echo first-line && echo the-last-words >&2 && exit 3\nCOPY app.txt /app.txt\n`
    )
    const run = await build(ws, { image: `${registry.host}/acme/broken` })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toMatch(/buildah bud failed at STEP \d+\/\d+: RUN echo first-line/)
    expect(error).toContain('the-last-words')
    expect(tagsOf('acme/broken').length === 0).toBe(true)
    expect(run.main.outputs.digest).toBeUndefined()
    expectCleanPost(run)
  }, 120_000)

  it('a missing Dockerfile and a context outside the workspace are named', async () => {
    const ws = makeWorkspace('FROM scratch\n')
    rmSync(join(ws, 'svc', 'hello', 'Dockerfile'))
    const missing = await build(ws, { image: `${registry.host}/acme/x` })
    expect(missing.main.code).toBe(1)
    expect(missing.main.errors.join('\n')).toMatch(
      /Dockerfile "svc\/hello\/Dockerfile" does not exist/
    )
    const outside = await build(ws, { image: `${registry.host}/acme/x`, context: '../..' })
    expect(outside.main.code).toBe(1)
    expect(outside.main.errors.join('\n')).toMatch(/context "..\/.." is outside the workspace/)
  })

  it('a tag rule that matches nothing fails before any build, and names the input', async () => {
    const ws = makeWorkspace(`FROM ${baseRef}\nCOPY app.txt /app.txt\n`)
    // The base image's lookup is already under way when the tags are worked out.
    const run = await build(
      ws,
      { image: `${registry.host}/acme/untagged`, tags: 'type=ref,event=tag' },
      { ref: 'refs/heads/main' }
    )
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toContain(
      'input "tags": no tag rule applies to this event (push refs/heads/main); add e.g. type=sha'
    )
    expect(run.main.errors).toHaveLength(1)
    expect(run.main.stderr).not.toMatch(/Unhandled|UnhandledPromiseRejection/)
    expect(tagsOf('acme/untagged')).toEqual([])
    expectCleanPost(run)
  }, 120_000)

  it('a failed cache push is named as such, not as the step that succeeded before it', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    const run = await build(ws, {
      image: `${registry.host}/acme/nocache`,
      cache: '127.0.0.1:9/acme/nocache-buildcache',
      tags: 'type=raw,value=one'
    })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toMatch(
      /buildah bud failed at the push of the build cache to 127\.0\.0\.1:9\/acme\/nocache-buildcache, after STEP 2\/\d+: COPY app\.txt \/app\.txt had succeeded/
    )
    expect(tagsOf('acme/nocache')).toEqual([])
  }, 240_000)

  it('an unreachable registry is named', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    const run = await build(ws, { image: '127.0.0.1:9/acme/x' })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /registry 127\.0\.0\.1:9 unreachable: .*ECONNREFUSED/
    )
  }, 120_000)
})

describe('secrets never reach the image: build-args, labels and tags that hold one are refused', () => {
  const b64 = (x: string): string => Buffer.from(x).toString('base64')
  it.each([
    ['build-args', { 'build-args': `PW=${PASSWORD}` }, /input "build-args": PW holds/],
    ['labels (double base64)', { labels: `x=${b64(b64(PASSWORD))}` }, /input "labels": x holds/],
    [
      'tags (hex)',
      { tags: `type=raw,value=${Buffer.from(PASSWORD).toString('hex')}` },
      /input "tags": a line holds/
    ]
  ])('%s: refused before anything runs, nothing pushed, no argv', async (_label, inputs, named) => {
    const ws = makeWorkspace(
      `FROM ${baseRef}\nARG PW\nRUN echo "$PW" > /pw\nCOPY app.txt /app.txt\n`
    )
    const run = await build(
      ws,
      { image: `${registry.host}/acme/leaky`, ...inputs },
      { sampleProcesses: true }
    )
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(run.main.errors).toHaveLength(1)
    expect(error).toMatch(named)
    expect(error).toMatch(/holds a secret of \d+ characters \(input "registry-password"\)/)
    expect(error).toMatch(/Pass secrets with input "secrets" instead \(BuildKit secret mounts/)
    // Nothing ran: no builder, and the registry holds no such image (so no config or
    // history of a pushed image can show the value).
    expect(run.main.processes.filter(p => /buildah|skopeo|docker/.test(p.argv[0] ?? ''))).toEqual(
      []
    )
    expect(tagsOf('acme/leaky')).toEqual([])
    expectNoLeaks(run)
  })

  it('the same value through a BuildKit secret builds, and is in neither the config nor the history', async () => {
    const ws = makeWorkspace(
      `FROM ${baseRef}\nRUN --mount=type=secret,id=pw test -s /run/secrets/pw && echo used > /used\nCOPY app.txt /app.txt\n`
    )
    const run = await build(
      ws,
      {
        image: `${registry.host}/acme/leaky`,
        secrets: 'id=pw,env=BUILD_PW',
        tags: 'type=raw,value=mounted',
        labels: 'team=shop'
      },
      { sampleProcesses: true, env: { BUILD_PW: PASSWORD } }
    )
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    const config = skopeo('inspect', '--config', `docker://${registry.host}/acme/leaky:mounted`)
    expect(config).toContain('"team": "shop"')
    // The builder gets the value through its environment (BuildKit's env= source, by
    // design): the image config and history, the logs and the outputs never hold it.
    expect(
      findLeaks(
        {
          'image config and history': config,
          stdout: run.main.stdout
            .split('\n')
            .filter(l => !l.startsWith('::add-mask::'))
            .join('\n'),
          outputs: JSON.stringify(run.main.outputs),
          summary: run.main.summary,
          argv: run.main.processes.map(p => p.argv.join(' ')).join('\n')
        },
        [{ value: PASSWORD, user: USER }]
      )
    ).toEqual([])
  }, 240_000)
})

describe('a short secret never silently corrupts a machine-readable value', () => {
  it('registry-password "sha256": warned, and the step fails naming what would be rewritten', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    const run = await build(ws, {
      image: `${registry.host}/acme/shortpw`,
      'registry-username': SHORT_USER,
      'registry-password': SHORT_PASSWORD,
      tags: 'type=raw,value=one'
    })
    expect(run.main.warnings.join('\n')).toMatch(
      /a secret of 6 characters \(input "registry-password"\) is shorter than 8 characters/
    )
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /the result file shortpw\.json holds a secret of 6 characters \(input "registry-password"\) or one of its encodings: masking would rewrite it/
    )
    // No output was written changed: no `***:...` digest, no result-file path.
    expect(run.main.outputs.digest).toBeUndefined()
    expect(JSON.stringify(run.main.outputs)).not.toContain('***')
  }, 240_000)
})

describe('merge mode', () => {
  it('stitches per-platform images into one OCI index', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    const image = `${registry.host}/acme/multi`
    const digests: string[] = []
    for (const platform of ['linux/amd64', 'linux/arm64']) {
      const leg = await build(ws, {
        image,
        platforms: platform,
        tags: `type=raw,value=${platform.replace('/', '-')}`
      })
      expect(leg.main.code).toBe(0)
      digests.push(leg.main.outputs.digest!)
    }
    expect(new Set(digests).size).toBe(2)
    const run = await build(ws, {
      image,
      mode: 'merge',
      digests: digests.join('\n'),
      tags: 'type=raw,value=multi'
    })
    expect(run.main.code).toBe(0)
    const raw = JSON.parse(skopeo('inspect', '--raw', `docker://${image}:multi`)) as {
      mediaType: string
      manifests: { digest: string; platform: { architecture: string; os: string } }[]
    }
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(raw.manifests.map(m => `${m.platform.os}/${m.platform.architecture}`).sort()).toEqual([
      'linux/amd64',
      'linux/arm64'
    ])
    expect(raw.manifests.map(m => m.digest).sort()).toEqual([...digests].sort())
    expect(run.main.outputs.digest).toMatch(/^sha256:/)
    expectNoLeaks(run)
  }, 240_000)
})

describe('more paths', () => {
  it('push: false builds without pushing or writing a result file', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    // auto, with no docker daemon reachable: buildah, and the log says why.
    const run = await build(
      ws,
      { image: `${registry.host}/acme/local-only`, push: 'false', backend: 'auto' },
      { env: { DOCKER_HOST: `unix://${join(tmp, 'no-docker.sock')}` }, post: false }
    )
    // The main step removes the credentials itself; the post step is only a safety net.
    expect(Object.keys(run.leftoverFiles()).filter(p => p.includes('registry-auth-'))).toEqual([])
    expect(run.main.state['auth-dir']).toMatch(/registry-auth-/)
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain('backend: buildah (no docker daemon; buildah is installed)')
    expect(run.main.outputs.backend).toBe('buildah')
    expect(run.main.outputs.reused).toBe('false')
    expect(run.main.outputs['result-file']).toBe('')
    expect(run.main.outputs.digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(run.main.summary).toContain('built (not pushed)')
    expect(tagsOf('acme/local-only')).toEqual([])
  })

  it('a BuildKit secret reaches RUN but never the layers or the logs', async () => {
    const token = canary('BUILDSECRET')
    const ws = makeWorkspace(
      `FROM ${baseRef}\nRUN --mount=type=secret,id=tok test "$(wc -c < /run/secrets/tok)" -gt 20 && echo had-secret > /proof\n`
    )
    const image = `${registry.host}/acme/secretive`
    const run = await build(
      ws,
      { image, secrets: 'id=tok,env=BUILD_TOKEN', tags: 'type=raw,value=s' },
      { env: { BUILD_TOKEN: token }, sampleProcesses: true }
    )
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.masks).toContain(token)
    const out = join(tmp, 'secretive-layers')
    skopeo('copy', `docker://${image}:s`, `dir:${out}`)
    const layers = readdirSync(out)
      .filter(f => /^[a-f0-9]{64}$/.test(f))
      .map(f => readFileSync(join(out, f)))
      .map(b => (b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b))
    const all = Buffer.concat(layers).toString('latin1')
    expect(all).toContain('had-secret')
    expect(all).not.toContain(token)
    // Not in any log, output, summary or argv (the builder's environment carries it by design).
    const ch = channels(run)
    for (const key of Object.keys(ch)) if (key.endsWith('.environ')) delete ch[key]
    expect(findLeaks(ch, [{ value: token }])).toEqual([])
  }, 120_000)

  it('a tag the registry rejects fails the step, and no ctx tag promises a complete image', async () => {
    const proxy = await startFaultProxy(registry.url, {
      ca: registry.caPem,
      rules: [
        {
          match: r => r.method === 'PUT' && r.url.endsWith('/manifests/rejected'),
          fault: {
            kind: 'status',
            status: 400,
            body: JSON.stringify({
              errors: [{ code: 'TAG_INVALID', message: 'tag not allowed here' }]
            })
          }
        }
      ]
    })
    try {
      const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
      const host = `127.0.0.1:${proxy.port}`
      const run = await build(ws, {
        image: `${host}/acme/half`,
        'registry-insecure': 'true',
        'registry-ca-cert': '',
        tags: 'type=raw,value=fine\ntype=raw,value=rejected'
      })
      expect(run.main.code).toBe(1)
      expect(run.main.errors.join('\n')).toMatch(
        /PUT acme\/half:rejected.*HTTP 400: TAG_INVALID tag not allowed here/
      )
      expect(run.main.outputs.digest).toBeUndefined()
      expect(run.main.outputs['result-file']).toBeUndefined()
      const tags = tagsOf('acme/half')
      expect(tags).toContain('fine')
      expect(tags.some(t => t.startsWith('ctx-'))).toBe(false)
    } finally {
      await proxy.close()
    }
  }, 120_000)
})

describe('registry cache', () => {
  it('cache: registry pushes layers to <image>-buildcache and a fresh builder pulls them', async () => {
    const ws = makeWorkspace(`FROM ${baseRef}\nRUN echo expensive > /step\nCOPY app.txt /app.txt\n`)
    const image = `${registry.host}/acme/cached`
    const first = await build(ws, { image, cache: 'registry', tags: 'type=raw,value=one' })
    expect(first.main.errors).toEqual([])
    expect(first.main.code).toBe(0)
    expect(first.main.summary).toContain(`${image}-buildcache`)
    expect(tagsOf('acme/cached-buildcache').length).toBeGreaterThan(0)
    // A fresh runner: empty local storage, so only the registry cache can help.
    const fresh = isolatedBuildahEnv()
    try {
      const second = await build(
        ws,
        { image, cache: 'registry', tags: 'type=raw,value=two', reuse: 'false' },
        { env: fresh.env }
      )
      expect(second.main.code).toBe(0)
      expect(second.main.stdout).toMatch(/Cache pulled from remote|Using cache/)
    } finally {
      fresh.cleanup()
    }
  }, 180_000)
})

describe('registry faults on the promotion path', () => {
  it('retries 5xx and 429, and tells a 403 (no push permission) from a 401', async () => {
    const proxy = await startFaultProxy(registry.url, { ca: registry.caPem })
    try {
      const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
      const image = `127.0.0.1:${proxy.port}/acme/flaky`
      const inputs = { image, 'registry-insecure': 'true', 'registry-ca-cert': '' }
      const first = await build(ws, { ...inputs, tags: 'type=raw,value=a' })
      expect(first.main.code).toBe(0)

      proxy.setRules([
        {
          match: r => r.method === 'GET' && r.url.includes('/manifests/ctx-'),
          times: 2,
          fault: { kind: 'status', status: 503 }
        },
        {
          match: r => r.method === 'PUT' && r.url.includes('/manifests/'),
          times: 1,
          fault: { kind: 'status', status: 429, retryAfter: '1' }
        }
      ])
      const flaky = await build(ws, { ...inputs, tags: 'type=raw,value=b' })
      expect(flaky.main.code).toBe(0)
      expect(flaky.main.outputs.reused).toBe('true')
      expect(flaky.main.outputs.digest).toBe(first.main.outputs.digest)
      expect(flaky.main.stdout).toMatch(/HTTP 503; retrying in/)
      expect(flaky.main.stdout).toMatch(/HTTP 429; retrying in 1\.0s/)

      proxy.setRules([
        {
          match: r => r.method === 'PUT' && r.url.includes('/manifests/'),
          fault: {
            kind: 'status',
            status: 403,
            body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'denied' }] })
          }
        }
      ])
      const denied = await build(ws, { ...inputs, tags: 'type=raw,value=c' })
      expect(denied.main.code).toBe(1)
      expect(denied.main.errors.join('\n')).toMatch(
        /user "ci-bot" is logged in but not allowed to push to acme\/flaky \(HTTP 403\)/
      )
      expect(denied.main.outputs.reused).toBeUndefined()
    } finally {
      await proxy.close()
    }
  }, 180_000)
})

describe('services from the services file', () => {
  it('builds a service by name with its build args and default image; an unknown name lists the known ones', async () => {
    const ws = makeWorkspace(
      `FROM ${baseRef}\nARG FLAVOR\nRUN echo "$FLAVOR" > /flavor\nCOPY app.txt /app.txt\n`
    )
    mkdirSync(join(ws, '.github'), { recursive: true })
    writeFileSync(
      join(ws, '.github', 'conveyor.yml'),
      [
        `defaults: { registry: '${registry.host}/acme' }`,
        'services:',
        '  hello:',
        '    path: svc/hello',
        '    build-args: { FLAVOR: slim }',
        ''
      ].join('\n')
    )
    git(ws, 'add', '-A')
    git(ws, 'commit', '-qm', 'config')
    const run = await build(ws, { service: 'hello', context: '', tags: 'type=raw,value=svc' })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.image).toBe(`${registry.host}/acme/hello`)
    expect(run.main.stdout).toContain('FLAVOR=slim')
    expect(inspect(`${registry.host}/acme/hello:svc`).Digest).toBe(run.main.outputs.digest)

    // Input "registry" wins over defaults.registry, and the log says so.
    const other = await build(ws, {
      service: 'hello',
      context: '',
      registry: `${registry.host}/other`,
      tags: 'type=raw,value=svc'
    })
    expect(other.main.errors).toEqual([])
    expect(other.main.outputs.image).toBe(`${registry.host}/other/hello`)
    expect(other.main.stdout).toContain(
      `image ${registry.host}/other/hello (from input "registry" (over defaults.registry ${registry.host}/acme of .github/conveyor.yml))`
    )
    expect(inspect(`${registry.host}/other/hello:svc`).Digest).toBe(other.main.outputs.digest)

    const unknown = await build(ws, { service: 'nope', context: '' })
    expect(unknown.main.code).toBe(1)
    expect(unknown.main.errors.join('\n')).toMatch(/nope/)
    expect(unknown.main.errors.join('\n')).toMatch(/hello/)
  }, 180_000)
})

describe('several platforms in one leg', () => {
  it('buildah builds a manifest list and pushes it as one index; a rerun reuses it', async () => {
    const ws = makeWorkspace('FROM scratch\nCOPY app.txt /app.txt\n')
    const image = `${registry.host}/acme/both`
    const run = await build(ws, {
      image,
      platforms: 'linux/amd64,linux/arm64',
      tags: 'type=raw,value=both'
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    const raw = JSON.parse(skopeo('inspect', '--raw', `docker://${image}:both`)) as {
      manifests: { platform: { architecture: string } }[]
    }
    expect(raw.manifests.map(m => m.platform.architecture).sort()).toEqual(['amd64', 'arm64'])
    const again = await build(ws, {
      image,
      platforms: 'linux/amd64,linux/arm64',
      tags: 'type=raw,value=again'
    })
    expect(again.main.outputs.reused).toBe('true')
    expect(again.main.outputs.digest).toBe(run.main.outputs.digest)
  }, 180_000)
})
