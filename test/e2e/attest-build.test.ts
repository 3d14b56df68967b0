/**
 * The build action's supply chain end to end, against the real TLS + htpasswd registry
 * (distribution 2.8: no referrers API, so the `sha256-<hex>` fallback index is what is
 * exercised): a build with an encrypted signing key pushes a provenance and an SBOM
 * referrer whose DSSE signatures `openssl dgst -verify` accepts with the public key, that
 * name the repository and the commit and list the image's dpkg packages (read from the
 * buildah-built root filesystem); a promotion finds the same two referrers and adds none;
 * buildah's image is read straight from its storage (apk, no container made for it);
 * the key and its password never leak; merge mode signs the index's provenance;
 * provenance and sbom off attach nothing; the docker
 * backend reads an apk database through `docker export`, and a database it cannot read
 * is a warning.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RegistryClient } from '../../src/image/registry.js'
import {
  opensslKeyPair,
  opensslVerifyEnvelope,
  readReferrer,
  referrersIndex,
  testClient,
  type KeyPair
} from '../support/attest.js'
import {
  isolatedBuildahEnv,
  pushBusyboxBase,
  writeTestAuthFile,
  type BuildahEnv
} from '../support/base-image.js'
import { canary, findLeaks } from '../support/canary.js'
import { haveDocker, startDockerd, type TestDockerd } from '../support/dockerd.js'
import { sh } from '../support/gitrepo.js'
import { ROOT, runAction, type ActionRun } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

const USER = 'ci-bot'
const PASSWORD = canary('REGPASS')
const KEY_PASSWORD = canary('KEYPASS')
const FIXTURES = join(ROOT, 'test', 'fixtures')
const DSSE = 'application/vnd.dsse.envelope.v1+json'
const SLSA = 'https://slsa.dev/provenance/v1'
const SPDX = 'https://spdx.dev/Document/v2.3'

let registry: TestRegistry
let buildah: BuildahEnv
let client: RegistryClient
let tmp: string
let key: KeyPair
let baseRef: string

/** Run git in `cwd` (the shared test environment: no global config, a fixed author). */
function git(cwd: string, ...args: string[]): string {
  return sh(cwd, args)
}

/** A git workspace whose service copies `rootfs` (a fixture directory) over `from`. */
function workspace(from: string, rootfs: string, extra: Record<string, string> = {}): string {
  const ws = mkdtempSync(join(tmp, 'ws-'))
  const ctx = join(ws, 'svc')
  mkdirSync(ctx, { recursive: true })
  cpSync(rootfs, join(ctx, 'rootfs'), { recursive: true })
  for (const [path, text] of Object.entries(extra)) {
    mkdirSync(join(ctx, 'rootfs', path, '..'), { recursive: true })
    writeFileSync(join(ctx, 'rootfs', path), text)
  }
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${from}\nCOPY rootfs/ /\n`)
  git(ws, 'init', '-q', '-b', 'main')
  git(ws, 'add', '-A')
  git(ws, 'commit', '-q', '-m', 'init')
  return ws
}

async function build(
  ws: string,
  image: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<ActionRun> {
  return runAction('build', {
    workspace: ws,
    runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
    timeoutMs: 240_000,
    sha: git(ws, 'rev-parse', 'HEAD'),
    event: { repository: { default_branch: 'main' } },
    env: { ...buildah.env, ...env },
    inputs: {
      context: 'svc',
      image: `${registry.host}/${image}`,
      'registry-username': USER,
      'registry-password': PASSWORD,
      'registry-ca-cert': registry.caPem!,
      backend: 'buildah',
      cache: 'none',
      tags: 'type=raw,value=v1',
      ...inputs
    }
  })
}

/** Every channel but the action's own environment (the runner fills it with INPUT_*). */
function channels(run: ActionRun): Record<string, string> {
  const all = run.channels()
  run.main.processes.forEach((p, i) => {
    if (p.argv[1]?.endsWith('index.js')) delete all[`main.process[${i}].environ`]
  })
  return all
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conveyor-attest-e2e-'))
  registry = await startRegistry({ users: { [USER]: PASSWORD } })
  buildah = isolatedBuildahEnv()
  const authFile = writeTestAuthFile(registry.host, USER, PASSWORD)
  baseRef = `${registry.host}/base/busybox:1`
  pushBusyboxBase(baseRef, buildah, { authFile, certDir: registry.certDir })
  client = testClient(registry)
  key = opensslKeyPair(tmp, KEY_PASSWORD)
}, 180_000)

afterAll(async () => {
  await client?.close()
  await registry?.stop()
  buildah?.cleanup()
  rmSync(tmp, { recursive: true, force: true })
})

describe('build: signed provenance and SBOM (buildah)', () => {
  let ws: string
  let first: ActionRun

  it('pushes two referrers that openssl verifies, naming the repository, the commit and the dpkg packages', async () => {
    ws = workspace(baseRef, join(FIXTURES, 'attest', 'debian12'))
    first = await build(ws, 'acme/signed', {
      'signing-key': key.privatePem,
      'signing-key-password': KEY_PASSWORD
    })
    expect(first.main.errors).toEqual([])
    expect(first.main.code).toBe(0)
    const { digest, provenance, sbom } = first.main.outputs
    expect(provenance).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(sbom).toMatch(/^sha256:[0-9a-f]{64}$/)
    const index = await referrersIndex(client, 'acme/signed', digest!)
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(index.manifests.map(m => m.digest).sort()).toEqual([provenance, sbom].sort())

    const sha = git(ws, 'rev-parse', 'HEAD')
    const prov = await readReferrer(client, 'acme/signed', provenance!)
    expect(prov.manifest.artifactType).toBe(DSSE)
    expect(prov.manifest.subject.digest).toBe(digest)
    expect(prov.manifest.config.mediaType).toBe('application/vnd.oci.empty.v1+json')
    expect(prov.manifest.annotations?.['in-toto.io/predicate-type']).toBe(SLSA)
    const statement = opensslVerifyEnvelope(prov.layer, key.publicFile, tmp) as {
      subject: { name: string; digest: { sha256: string } }[]
      predicate: {
        buildDefinition: {
          externalParameters: { workflow: { repository: string } }
          resolvedDependencies: { uri: string; digest: Record<string, string> }[]
        }
      }
    }
    expect(statement.subject).toEqual([
      { name: `${registry.host}/acme/signed`, digest: { sha256: digest!.slice(7) } }
    ])
    const def = statement.predicate.buildDefinition
    expect(def.externalParameters.workflow.repository).toBe('https://github.com/acme/shop')
    expect(def.resolvedDependencies[0]).toEqual({
      uri: 'git+https://github.com/acme/shop@refs/heads/main',
      digest: { gitCommit: sha }
    })
    // The base image, with the digest the registry holds for it.
    const base = await client.getManifest('base/busybox', '1')
    expect(def.resolvedDependencies.some(d => d.digest.sha256 === base!.digest.slice(7))).toBe(true)

    const bom = await readReferrer(client, 'acme/signed', sbom!)
    expect(bom.manifest.annotations?.['in-toto.io/predicate-type']).toBe(SPDX)
    const doc = opensslVerifyEnvelope(bom.layer, key.publicFile, tmp) as {
      predicate: { packages: { name: string; versionInfo?: string }[] }
    }
    const names = doc.predicate.packages.map(p => p.name)
    expect(names).toEqual(expect.arrayContaining(['libc6', 'zlib1g', 'login', 'libgcc-s1']))
    expect(names).toContain(`${registry.host}/acme/signed`)
    expect(first.main.warnings).toEqual([])
  }, 300_000)

  it('lists the apk packages, read straight from buildah’s storage: no container is made for it', async () => {
    const apkWs = workspace(baseRef, join(FIXTURES, 'attest', 'alpine'), {
      'lib/apk/db/installed': execFileSync(
        'cat',
        [join(FIXTURES, 'supply-chain', 'syft-apk', 'installed')],
        { encoding: 'utf8' }
      )
    })
    const containers = (): string =>
      execFileSync('buildah', ['containers', '--quiet', '--all'], {
        env: { ...process.env, ...buildah.env },
        encoding: 'utf8'
      })
    const before = containers()
    const run = await build(apkWs, 'acme/apk-buildah', {}, { RUNNER_DEBUG: '1' })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toMatch(
      /::debug::sbom: \S+\/acme\/apk-buildah:v1 read from its storage \S+ \(vfs, \d+ layers\), no container/
    )
    expect(run.main.stdout).not.toMatch(/mounted at|not read from its storage/)
    expect(containers()).toBe(before)
    const bom = await readReferrer(client, 'acme/apk-buildah', run.main.outputs.sbom!)
    const doc = JSON.parse(bom.layer.toString('utf8')) as {
      predicate: { packages: { name: string }[] }
    }
    expect(doc.predicate.packages.map(p => p.name)).toEqual(
      expect.arrayContaining(['musl', 'busybox-binsh', 'bash'])
    )
  }, 300_000)

  it('never shows the signing key or its password, in any encoding, anywhere', () => {
    const lines = key.privatePem.split('\n').filter(l => l.length >= 16 && !l.startsWith('-----'))
    const canaries = [
      { value: key.privatePem },
      { value: KEY_PASSWORD },
      ...lines.map(value => ({ value }))
    ]
    expect(findLeaks(channels(first), canaries)).toEqual([])
    // No child got the key or its password in its argv.
    for (const p of first.main.processes) expect(p.argv.join(' ')).not.toContain(KEY_PASSWORD)
  })

  it('a promotion keeps the same two referrers and adds none', async () => {
    const again = await build(ws, 'acme/signed', {
      'signing-key': key.privatePem,
      'signing-key-password': KEY_PASSWORD,
      tags: 'type=raw,value=v2'
    })
    expect(again.main.errors).toEqual([])
    expect(again.main.outputs.reused).toBe('true')
    expect(again.main.outputs.digest).toBe(first.main.outputs.digest)
    expect(again.main.outputs.provenance).toBe(first.main.outputs.provenance)
    expect(again.main.outputs.sbom).toBe(first.main.outputs.sbom)
    const index = await referrersIndex(client, 'acme/signed', first.main.outputs.digest!)
    expect(index.manifests).toHaveLength(2)
    expect(again.main.warnings).toEqual([])
  }, 300_000)

  it('merge mode attests the index: signed provenance about the index digest', async () => {
    const run = await build(ws, 'acme/signed', {
      mode: 'merge',
      digests: first.main.outputs.digest!,
      tags: 'type=raw,value=multi',
      'signing-key': key.privatePem,
      'signing-key-password': KEY_PASSWORD
    })
    expect(run.main.errors).toEqual([])
    const index = run.main.outputs.digest!
    expect(index).not.toBe(first.main.outputs.digest)
    expect(run.main.outputs.sbom).toBe('')
    const prov = await readReferrer(client, 'acme/signed', run.main.outputs.provenance!)
    expect(prov.manifest.subject.digest).toBe(index)
    const statement = opensslVerifyEnvelope(prov.layer, key.publicFile, tmp) as {
      subject: { digest: { sha256: string } }[]
    }
    expect(statement.subject[0]!.digest.sha256).toBe(index.slice(7))
  }, 120_000)

  it('provenance and sbom off: no referrer, empty outputs', async () => {
    const plain = workspace(baseRef, join(FIXTURES, 'attest', 'debian12'), { 'app.txt': 'plain\n' })
    const run = await build(plain, 'acme/plain', { provenance: 'false', sbom: 'false' })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.provenance).toBe('')
    expect(run.main.outputs.sbom).toBe('')
    expect(
      (await referrersIndex(client, 'acme/plain', run.main.outputs.digest!)).manifests
    ).toEqual([])
  }, 300_000)

  it('a wrong key password fails before anything is built, naming the inputs', async () => {
    const run = await build(ws, 'acme/wrongpass', {
      'signing-key': key.privatePem,
      'signing-key-password': canary('WRONG')
    })
    expect(run.main.code).not.toBe(0)
    expect(run.main.errors.join('\n')).toMatch(
      /input "signing-key-password" does not decrypt "signing-key"/
    )
    expect(findLeaks(channels(run), [{ value: key.privatePem }, { value: KEY_PASSWORD }])).toEqual(
      []
    )
  }, 120_000)
})

describe.skipIf(!haveDocker())('build: SBOM through docker export', () => {
  let dockerd: TestDockerd
  let plain: TestRegistry
  beforeAll(async () => {
    plain = await startRegistry({ tls: false, users: { [USER]: PASSWORD } })
    dockerd = await startDockerd({ insecureRegistries: [plain.host] })
  }, 180_000)
  afterAll(async () => {
    await dockerd?.stop()
    await plain?.stop()
  })

  it('lists the apk packages, and warns about a database it cannot read', async () => {
    const ws = workspace('scratch', join(FIXTURES, 'attest', 'alpine'), {
      'lib/apk/db/installed': execFileSync(
        'cat',
        [join(FIXTURES, 'supply-chain', 'syft-apk', 'installed')],
        { encoding: 'utf8' }
      ),
      'var/lib/rpm/Packages': 'not a Berkeley DB\n'
    })
    const run = await runAction('build', {
      workspace: ws,
      runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
      timeoutMs: 240_000,
      sha: git(ws, 'rev-parse', 'HEAD'),
      env: { DOCKER_HOST: dockerd.host },
      inputs: {
        context: 'svc',
        image: `${plain.host}/acme/apk`,
        'registry-username': USER,
        'registry-password': PASSWORD,
        'registry-insecure': 'true',
        backend: 'docker',
        cache: 'none',
        tags: 'type=raw,value=v1'
      }
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.warnings.join('\n')).toMatch(
      /var\/lib\/rpm\/Packages: an rpm Berkeley DB database, which Conveyor cannot read/
    )
    const c = testClient(plain)
    try {
      const bom = await readReferrer(c, 'acme/apk', run.main.outputs.sbom!)
      // No signing key and no OIDC token: the bare statement.
      expect(bom.manifest.artifactType).toBe('application/vnd.in-toto+json')
      const doc = JSON.parse(bom.layer.toString('utf8')) as {
        predicate: { packages: { name: string }[] }
      }
      expect(doc.predicate.packages.map(p => p.name)).toEqual(
        expect.arrayContaining(['musl', 'busybox-binsh', 'bash'])
      )
    } finally {
      await c.close()
    }
  }, 300_000)
})
