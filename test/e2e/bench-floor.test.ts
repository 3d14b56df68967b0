/**
 * The build benchmark's floor client (`scripts/bench/registry-floor.mjs`) against a real
 * TLS + htpasswd registry: it makes the promotion's exchange (GET base, GET ctx tag,
 * three PUTs) and the new tags point at the same digest; a refused login is an error,
 * not a figure.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, node24 } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import {
  isolatedBuildahEnv,
  pushBusyboxBase,
  writeTestAuthFile,
  type BuildahEnv
} from '../support/base-image.js'

const CLIENT = join(ROOT, 'scripts', 'bench', 'registry-floor.mjs')
const PASSWORD = 'floor-test-password'
let registry: TestRegistry
let buildah: BuildahEnv
let authFile: string

beforeAll(async () => {
  registry = await startRegistry({ users: { bench: PASSWORD } })
  buildah = isolatedBuildahEnv()
  authFile = writeTestAuthFile(registry.host, 'bench', PASSWORD)
  pushBusyboxBase(`${registry.host}/base/busybox:1`, buildah, {
    authFile,
    certDir: registry.certDir
  })
}, 120_000)

afterAll(async () => {
  await registry?.stop()
  buildah?.cleanup()
})

function floor(password: string): ReturnType<typeof spawnSync> {
  const job = {
    host: registry.host,
    ca: registry.caPem,
    username: 'bench',
    password,
    base: { repository: 'base/busybox', tag: '1' },
    // The base image stands in for a ctx-tagged one: the PUTs need blobs of the repository.
    repository: 'base/busybox',
    ctxTag: '1',
    tags: ['floor', 'floor-latest', 'floor-sha']
  }
  return spawnSync(node24(), [CLIENT], { input: JSON.stringify(job), encoding: 'utf8' })
}

function digest(tag: string): string {
  return execFileSync(
    'skopeo',
    [
      'inspect',
      '--authfile',
      authFile,
      '--cert-dir',
      registry.certDir!,
      '--format',
      '{{.Digest}}',
      `docker://${registry.host}/base/busybox:${tag}`
    ],
    { encoding: 'utf8' }
  ).trim()
}

describe('the bench floor client', () => {
  it('makes the exchange of a promotion: the three new tags point at the digest of the one it read', () => {
    const run = floor(PASSWORD)
    expect(run.status, String(run.stderr)).toBe(0)
    const { ms } = JSON.parse(String(run.stdout)) as { ms: number }
    expect(ms).toBeGreaterThan(0)
    const source = digest('1')
    expect(source).toMatch(/^sha256:[0-9a-f]{64}$/)
    for (const tag of ['floor', 'floor-latest', 'floor-sha']) expect(digest(tag)).toBe(source)
  })

  it('fails on a refused login rather than print a figure', () => {
    const run = floor('not-the-password')
    expect(run.status).not.toBe(0)
    expect(String(run.stderr)).toContain('base image: HTTP 401')
    expect(String(run.stdout)).toBe('')
  })
})
