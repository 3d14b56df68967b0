/**
 * The build action with a real Docker daemon (isolated dockerd 20.10 + docker 28 CLI;
 * no buildx plugin here, so `auto` must pick plain docker and the classic builder)
 * against a plain-HTTP registry with htpasswd auth: build with a RUN step on host
 * networking, push, labels, then build avoidance. The canary password must not reach
 * any child's argv or environment.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { runAction, type ActionRun } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { startDockerd, type TestDockerd } from '../support/dockerd.js'
import {
  isolatedBuildahEnv,
  pushBusyboxBase,
  writeTestAuthFile,
  type BuildahEnv
} from '../support/base-image.js'

const PASSWORD = canary('DOCKERPASS')
const USER = 'pusher'
const bundle = process.env.CONVEYOR_BUILD_BUNDLE
  ? {
      main: join(process.env.CONVEYOR_BUILD_BUNDLE, 'index.js'),
      post: join(process.env.CONVEYOR_BUILD_BUNDLE, 'post', 'index.js')
    }
  : undefined

let registry: TestRegistry
let dockerd: TestDockerd
let buildah: BuildahEnv
let authFile: string
let tmp: string

function channelsWithoutRunnerEnv(run: ActionRun): Record<string, string> {
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

function inspect(ref: string): { Digest: string; Labels: Record<string, string> } {
  const out = execFileSync(
    'skopeo',
    ['inspect', '--authfile', authFile, '--tls-verify=false', `docker://${ref}`],
    { encoding: 'utf8', env: { ...process.env, ...buildah.env } }
  )
  return JSON.parse(out) as { Digest: string; Labels: Record<string, string> }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conveyor-build-docker-'))
  registry = await startRegistry({ tls: false, users: { [USER]: PASSWORD } })
  dockerd = await startDockerd({ insecureRegistries: [registry.host] })
  buildah = isolatedBuildahEnv()
  authFile = writeTestAuthFile(registry.host, USER, PASSWORD)
  pushBusyboxBase(`${registry.host}/base/busybox:1`, buildah, { authFile, insecure: true })
}, 180_000)

afterAll(async () => {
  // Each step on its own: one failing must not leave the others running.
  const steps = [
    () => dockerd?.stop(),
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

describe('build with docker (classic builder)', () => {
  it('auto picks docker, builds a RUN step on host networking, pushes, then reuses', async () => {
    const ws = mkdtempSync(join(tmp, 'ws-'))
    const ctx = join(ws, 'services', 'api')
    mkdirSync(ctx, { recursive: true })
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM ${registry.host}/base/busybox:1\nARG GREETING\nRUN echo "$GREETING" > /greeting\nCOPY app.txt /app.txt\n`
    )
    writeFileSync(join(ctx, 'app.txt'), 'api\n')
    const inputs = {
      context: 'services/api',
      image: `${registry.host}/acme/api`,
      'registry-username': USER,
      'registry-password': PASSWORD,
      'registry-insecure': 'true',
      'build-args': 'GREETING=hello',
      network: 'host',
      cache: 'none',
      tags: 'type=raw,value=first'
    }
    const env = { DOCKER_HOST: dockerd.host }
    const first = await runAction('build', {
      workspace: ws,
      runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
      bundle,
      inputs,
      env,
      sampleProcesses: true,
      timeoutMs: 240_000
    })
    expect(first.main.errors).toEqual([])
    expect(first.main.code).toBe(0)
    expect(first.main.stdout).toMatch(
      /backend: docker \(a docker daemon answers but the buildx plugin is missing\)/
    )
    expect(first.main.outputs.backend).toBe('docker')
    expect(first.main.outputs.reused).toBe('false')
    expect(first.main.warnings.join('\n')).toMatch(/registry-insecure/)
    const digest = first.main.outputs.digest!
    const img = inspect(`${registry.host}/acme/api:first`)
    expect(img.Digest).toBe(digest)
    expect(img.Labels['org.opencontainers.image.title']).toBe('api')
    // docker ran, with the password in neither argv nor environment.
    expect(
      first.main.processes.some(p => p.argv.includes('build') && p.argv.includes('--network'))
    ).toBe(true)
    expect(findLeaks(channelsWithoutRunnerEnv(first), [{ value: PASSWORD, user: USER }])).toEqual(
      []
    )
    expect(first.post?.code).toBe(0)
    expect(Object.keys(first.leftoverFiles()).filter(p => p.includes('registry-auth-'))).toEqual([])

    const second = await runAction('build', {
      workspace: ws,
      runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
      bundle,
      inputs: { ...inputs, tags: 'type=raw,value=second' },
      env,
      timeoutMs: 120_000
    })
    expect(second.main.code).toBe(0)
    expect(second.main.outputs.reused).toBe('true')
    expect(second.main.outputs.digest).toBe(digest)
    expect(inspect(`${registry.host}/acme/api:second`).Digest).toBe(digest)

    // A different build arg is a different input: a build.
    const third = await runAction('build', {
      workspace: ws,
      runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
      bundle,
      inputs: { ...inputs, 'build-args': 'GREETING=bye', tags: 'type=raw,value=third' },
      env,
      timeoutMs: 240_000
    })
    expect(third.main.code).toBe(0)
    expect(third.main.outputs.reused).toBe('false')
    expect(third.main.outputs.digest).not.toBe(digest)
  }, 400_000)

  it('a failing RUN step under docker: ::error:: names the step', async () => {
    const ws = mkdtempSync(join(tmp, 'ws-'))
    writeFileSync(
      join(ws, 'Dockerfile'),
      `FROM ${registry.host}/base/busybox:1\nRUN echo docker-says-no && false\n`
    )
    const run = await runAction('build', {
      workspace: ws,
      runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
      bundle,
      inputs: {
        context: '.',
        image: `${registry.host}/acme/bad`,
        'registry-username': USER,
        'registry-password': PASSWORD,
        'registry-insecure': 'true',
        network: 'host',
        cache: 'none',
        backend: 'docker',
        tags: 'type=raw,value=x'
      },
      env: { DOCKER_HOST: dockerd.host },
      timeoutMs: 240_000
    })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toMatch(/docker build failed at Step \d+\/\d+ : RUN echo docker-says-no/)
    expect(error).toContain('docker-says-no')
  }, 300_000)
})
