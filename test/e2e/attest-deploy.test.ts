/**
 * deploy's `verify: provenance` end to end: four images built by the build action with
 * buildah and pushed to the real TLS + htpasswd registry (signed with our key from this
 * repository; unsigned; signed with another key; signed with our key but from another
 * repository), then deployed into a real bare config repository. The signed one deploys
 * (its tag resolved to the digest); each other one is refused with an error naming the
 * image and the failed check, and the config repository is left exactly as it was. SSH
 * mode refuses before any host is contacted.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { opensslKeyPair, type KeyPair } from '../support/attest.js'
import {
  isolatedBuildahEnv,
  pushBusyboxBase,
  writeTestAuthFile,
  type BuildahEnv
} from '../support/base-image.js'
import { canary, findLeaks } from '../support/canary.js'
import { cleanup, makeRepo, sh, type TestRepo } from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

const USER = 'ci-bot'
const PASSWORD = canary('REGPASS')

let registry: TestRegistry
let buildah: BuildahEnv
let tmp: string
let ours: KeyPair
let theirs: KeyPair
let ws: string
const built: Record<string, string> = {}

/** Run git in `cwd` (the shared test environment: no global config, a fixed author). */
function git(cwd: string, ...args: string[]): string {
  return sh(cwd, args)
}

/** Build `acme/<name>:v1` with the build action; returns its digest. */
async function buildImage(
  name: string,
  key: KeyPair | undefined,
  repository = 'acme/shop'
): Promise<string> {
  const run = await runAction('build', {
    workspace: ws,
    runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
    timeoutMs: 240_000,
    sha: git(ws, 'rev-parse', 'HEAD'),
    repository,
    env: buildah.env,
    inputs: {
      context: 'svc',
      image: `${registry.host}/acme/${name}`,
      'registry-username': USER,
      'registry-password': PASSWORD,
      'registry-ca-cert': registry.caPem!,
      backend: 'buildah',
      cache: 'none',
      tags: 'type=raw,value=v1',
      sbom: 'false',
      ...(key ? { 'signing-key': key.privatePem } : {})
    }
  })
  expect(run.main.errors).toEqual([])
  return run.main.outputs.digest!
}

/** A config repository with one kustomize overlay naming image `app`. */
function configRepo(): TestRepo {
  const repo = makeRepo({
    'deploy/kustomization.yaml': `resources:\n  - deployment.yaml\nimages:\n  - name: app\n    newName: ${registry.host}/acme/good\n    newTag: v0\n`,
    'deploy/deployment.yaml':
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      containers:\n        - name: app\n          image: app\n'
  })
  repo.push('main')
  return repo
}

function deploy(inputs: Record<string, string>): Promise<ActionRun> {
  return runAction('deploy', {
    workspace: ws,
    runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
    sha: git(ws, 'rev-parse', 'HEAD'),
    inputs: {
      verify: 'provenance',
      'verify-key': ours.publicPem,
      'registry-username': USER,
      'registry-password': PASSWORD,
      'registry-ca-cert': registry.caPem!,
      ...inputs
    }
  })
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conveyor-attest-deploy-'))
  registry = await startRegistry({ users: { [USER]: PASSWORD } })
  buildah = isolatedBuildahEnv()
  const authFile = writeTestAuthFile(registry.host, USER, PASSWORD)
  const base = `${registry.host}/base/busybox:1`
  pushBusyboxBase(base, buildah, { authFile, certDir: registry.certDir })
  ours = opensslKeyPair(tmp)
  theirs = opensslKeyPair(tmp)
  ws = mkdtempSync(join(tmp, 'ws-'))
  mkdirSync(join(ws, 'svc'))
  writeFileSync(join(ws, 'svc', 'Dockerfile'), `FROM ${base}\nCOPY app.txt /app.txt\n`)
  writeFileSync(join(ws, 'svc', 'app.txt'), 'app\n')
  writeFileSync(join(ws, 'verify.pem'), '')
  git(ws, 'init', '-q', '-b', 'main')
  git(ws, 'add', '-A')
  git(ws, 'commit', '-q', '-m', 'init')
  built.good = await buildImage('good', ours)
  built.unsigned = await buildImage('unsigned', undefined)
  built.otherkey = await buildImage('otherkey', theirs)
  built.fork = await buildImage('fork', ours, 'evil/fork')
}, 600_000)

afterAll(async () => {
  await registry?.stop()
  buildah?.cleanup()
  rmSync(tmp, { recursive: true, force: true })
  cleanup()
})

describe('deploy verify: provenance', () => {
  it('deploys the signed image, its tag resolved to the verified digest', async () => {
    const repo = configRepo()
    writeFileSync(join(ws, 'verify.pem'), ours.publicPem)
    const run = await deploy({
      repository: repo.url,
      images: `app=${registry.host}/acme/good:v1`,
      targets: 'kustomize:deploy',
      // The key as a path inside the workspace.
      'verify-key': 'verify.pem'
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).toContain(`resolves to ${built.good}`)
    expect(run.main.stdout).toMatch(/verified: .*built from https:\/\/github.com\/acme\/shop/)
    expect(sh(repo.origin, ['show', 'main:deploy/kustomization.yaml'])).toContain('newTag: v1')
    expect(
      findLeaks(run.channels(), [{ value: PASSWORD, user: USER }]).filter(
        l => !l.channel.endsWith('.environ')
      )
    ).toEqual([])
  }, 120_000)

  it('refuses unsigned, other-key and other-repository images, one error each, and writes nothing', async () => {
    const repo = configRepo()
    const before = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy({
      repository: repo.url,
      images: [
        `app=${registry.host}/acme/good@${built.good}`,
        `unsigned=${registry.host}/acme/unsigned:v1`,
        `otherkey=${registry.host}/acme/otherkey@${built.otherkey}`,
        `fork=${registry.host}/acme/fork:v1`
      ].join('\n'),
      targets: 'kustomize:deploy'
    })
    expect(run.main.code).not.toBe(0)
    const errors = run.main.errors.filter(e => !e.startsWith('deploy failed'))
    expect(errors).toHaveLength(3)
    expect(errors[0]).toMatch(
      new RegExp(
        `^unsigned \\(${registry.host}/acme/unsigned:v1\\): check "signature" failed: the attestation is not signed`
      )
    )
    expect(errors[1]).toMatch(
      /^otherkey \(.*\): check "signature" failed: no signature verifies with the given key/
    )
    expect(errors[2]).toMatch(
      /^fork \(.*\): check "repository" failed: built from "https:\/\/github.com\/evil\/fork", expected https:\/\/github.com\/acme\/shop/
    )
    expect(run.main.errors.at(-1)).toMatch(/refused 3 of 4 image\(s\); nothing was written/)
    // The config repository is exactly as it was: no commit, no branch.
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(before)
    expect(sh(repo.origin, ['for-each-ref', '--format=%(refname)'])).toBe('refs/heads/main')
  }, 120_000)

  it('allowed-sources admits the other repository', async () => {
    const repo = configRepo()
    const run = await deploy({
      repository: repo.url,
      images: `app=${registry.host}/acme/fork:v1`,
      targets: 'kustomize:deploy',
      'allowed-sources': 'acme/shop\nevil/fork'
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.result).toBe('pushed')
  }, 120_000)

  it('ssh mode refuses before any host is contacted', async () => {
    const keyFile = join(mkdtempSync(join(tmp, 'ssh-')), 'id')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile])
    const run = await deploy({
      mode: 'ssh',
      hosts: '127.0.0.1:1',
      key: readFileSync(keyFile, 'utf8'),
      fingerprints: `SHA256:${'A'.repeat(43)}`,
      source: 'svc',
      username: 'deploy',
      target: '/srv/app',
      images: `app=${registry.host}/acme/unsigned:v1`
    })
    expect(run.main.code).not.toBe(0)
    expect(run.main.errors[0]).toMatch(/^app \(.*acme\/unsigned:v1\): check "signature" failed/)
    expect(run.main.stdout).not.toMatch(/Deploying release/)
  }, 120_000)
})
