/**
 * deploy's `verify: provenance` without `verify-key`, end to end: keyless Sigstore
 * bundles made by the build's own keyless signing (@actions/attest through
 * src/image/attest/keyless.ts) against local fakes of GitHub's Sigstore instance
 * (Fulcio + TSA) and of the public-good one (Fulcio + Rekor), pushed as OCI referrers of
 * small images in the real TLS + htpasswd registry; then the committed deploy bundle
 * (Node 24) verifies them against a trusted root file made from the fakes (JSON lines of
 * both, as `gh attestation trusted-root` prints them) and deploys into a real bare
 * config repository. Bundles of this repository's workflow deploy, from either instance.
 * A run of another repository, a payload changed after signing, a certificate of a CA
 * the root does not hold, a DSSE envelope signed with a key, and no attestation at all
 * are each refused with an error naming the image and the check; the config repository
 * is left as it was, and the registry password (a canary) appears nowhere. Signing runs
 * in this process because the fakes answer through nock; the deploy needs no network.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signKeyless } from '../../src/image/attest/keyless.js'
import { parseSigningKey } from '../../src/image/attest/keys.js'
import { statementBlob, type AttestationBlob } from '../../src/image/attest/oci.js'
import { provenanceStatement } from '../../src/image/attest/provenance.js'
import { pushAttestations } from '../../src/image/attest/referrers.js'
import type { Statement } from '../../src/image/attest/statement.js'
import type { RegistryClient } from '../../src/image/registry.js'
import { opensslKeyPair, pushTinyImage, testClient } from '../support/attest.js'
import { canary, findLeaks } from '../support/canary.js'
import { cleanup, makeRepo, sh, type TestRepo } from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import {
  githubClaims,
  makeFakeInstance,
  reliableFake,
  startFakeOidc,
  uninstallFakes,
  type FakeInstance,
  type FakeKind,
  type FakeOidc
} from '../support/sigstore-fakes.js'

const USER = 'ci-bot'
const PASSWORD = canary('REGPASS')

let registry: TestRegistry
let client: RegistryClient
let oidc: FakeOidc
let tmp: string
let ws: string
let sha: string
const fakes = {} as Record<FakeKind, FakeInstance>
const digests: Record<string, string> = {}
const saved = { ...process.env }

/** The provenance statement the build writes for `acme/<name>@digest`, as a run of `repository`. */
function statementFor(name: string, digest: string, repository = 'acme/shop'): Statement {
  return provenanceStatement(
    {
      serverUrl: 'https://github.com',
      repository,
      ref: 'refs/heads/main',
      sha,
      workflowRef: `${repository}/.github/workflows/ci.yml@refs/heads/main`,
      runId: '7',
      runAttempt: '1',
      eventName: 'push'
    },
    { image: `${registry.host}/acme/${name}`, digest, service: name }
  )
}

/** Sign keylessly with the fake installed, as a run of `runOf`. */
async function signWith(
  fake: FakeInstance,
  statement: Statement,
  runOf = 'acme/shop'
): Promise<AttestationBlob> {
  fake.install()
  oidc.claims = githubClaims(runOf, { sha })
  const kind = fake.kind
  return (await signKeyless(statement, { token: 'ghs_unused', sigstore: kind, store: false })).blob
}

/** Push `acme/<name>:v1` and the attestations `make` gives for its digest. */
async function image(
  name: string,
  make: (digest: string) => Promise<AttestationBlob[]>
): Promise<void> {
  const subject = await pushTinyImage(client, `acme/${name}`, 'v1')
  digests[name] = subject.digest
  const blobs = await make(subject.digest)
  if (blobs.length > 0) await pushAttestations(client, `acme/${name}`, subject, blobs)
}

/** A config repository with a kustomize overlay naming images `app` and `web`. */
function configRepo(): TestRepo {
  const repo = makeRepo({
    'deploy/kustomization.yaml': `resources:\n  - deployment.yaml\nimages:\n  - name: app\n    newName: ${registry.host}/acme/good\n    newTag: v0\n  - name: web\n    newName: ${registry.host}/acme/goodpg\n    newTag: v0\n`,
    'deploy/deployment.yaml':
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n    spec:\n      containers:\n        - name: app\n          image: app\n        - name: web\n          image: web\n'
  })
  repo.push('main')
  return repo
}

function deploy(inputs: Record<string, string>): Promise<ActionRun> {
  return runAction('deploy', {
    workspace: ws,
    runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
    sha,
    inputs: {
      verify: 'provenance',
      'sigstore-trusted-root': '.github/sigstore/trusted_root.jsonl',
      'registry-username': USER,
      'registry-password': PASSWORD,
      'registry-ca-cert': registry.caPem!,
      targets: 'kustomize:deploy',
      ...inputs
    }
  })
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conveyor-keyless-deploy-'))
  registry = await startRegistry({ users: { [USER]: PASSWORD } })
  client = testClient(registry)
  ws = mkdtempSync(join(tmp, 'ws-'))
  writeFileSync(join(ws, 'README'), 'shop\n')
  sh(ws, ['init', '-q', '-b', 'main'])
  sh(ws, ['add', '-A'])
  sh(ws, ['commit', '-q', '-m', 'init'])
  sha = sh(ws, ['rev-parse', 'HEAD'])
  oidc = await startFakeOidc(githubClaims('acme/shop', { sha }))
  Object.assign(process.env, {
    ACTIONS_ID_TOKEN_REQUEST_URL: oidc.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop'
  })
  for (const kind of ['github', 'public-good'] as const) {
    fakes[kind] = await reliableFake(kind, async () =>
      JSON.parse(
        (
          await signKeyless(statementFor('probe', `sha256:${'0'.repeat(64)}`), {
            token: 'ghs_unused',
            sigstore: kind,
            store: false
          })
        ).blob.bytes.toString()
      )
    )
  }
  // The trusted roots as `gh attestation trusted-root` prints them: JSON lines.
  mkdirSync(join(ws, '.github', 'sigstore'), { recursive: true })
  writeFileSync(
    join(ws, '.github', 'sigstore', 'trusted_root.jsonl'),
    `${JSON.stringify(fakes.github.trustedRootJson)}\n${JSON.stringify(fakes['public-good'].trustedRootJson)}\n`
  )
  await image('good', async d => [await signWith(fakes.github, statementFor('good', d))])
  await image('goodpg', async d => [
    await signWith(fakes['public-good'], statementFor('goodpg', d))
  ])
  // A run of evil/fork whose statement claims this repository.
  await image('fork', async d => [
    await signWith(fakes.github, statementFor('fork', d), 'evil/fork')
  ])
  await image('tampered', async d => {
    const blob = await signWith(fakes.github, statementFor('tampered', d))
    const bundle = JSON.parse(blob.bytes.toString()) as { dsseEnvelope: { payload: string } }
    const forged = statementFor('tampered', d) as Statement<{
      runDetails: { builder: { id: string } }
    }>
    forged.predicate.runDetails.builder.id = 'https://evil.example/builder'
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(forged)).toString('base64')
    return [{ ...blob, bytes: Buffer.from(JSON.stringify(bundle)) }]
  })
  // A CA the trusted root does not hold (its bundle carries a timestamp the root trusts).
  const stranger = await makeFakeInstance('github', { timeOf: fakes.github })
  await image('stranger', async d => [await signWith(stranger, statementFor('stranger', d))])
  await image('bare', () => Promise.resolve([]))
  const key = parseSigningKey(opensslKeyPair(tmp).privatePem)
  await image('keyed', d => Promise.resolve([statementBlob(statementFor('keyed', d), key)]))
  uninstallFakes()
}, 120_000)

afterAll(async () => {
  uninstallFakes()
  process.env = saved
  await oidc?.stop()
  await client?.close()
  await registry?.stop()
  if (tmp) rmSync(tmp, { recursive: true, force: true })
  cleanup()
})

describe('deploy verify: provenance, keyless', () => {
  it("deploys bundles of this repository's workflow from both instances, verified against the trusted root file", async () => {
    const repo = configRepo()
    const run = await deploy({
      repository: repo.url,
      images: `app=${registry.host}/acme/good:v1\nweb=${registry.host}/acme/goodpg@${digests.goodpg}`
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).toContain(`resolves to ${digests.good}`)
    expect(run.main.stdout).toMatch(
      /keyless: Sigstore bundles are verified against the trusted root\(s\) of sigstore-trusted-root: https:\/\/fulcio\.githubapp\.com; https:\/\/fulcio\.sigstore\.dev/
    )
    expect(run.main.stdout).toMatch(
      /app \(.*acme\/good@sha256:[0-9a-f]{64}\): verified: a provenance attestation is attached; Sigstore bundle verified against the trusted root of https:\/\/fulcio\.githubapp\.com \(certificate chain, 0 transparency log entries, 1 signed timestamp\); signed by workflow https:\/\/github\.com\/acme\/shop\/\.github\/workflows\/ci\.yml@refs\/heads\/main, issuer https:\/\/token\.actions\.githubusercontent\.com; .*built from https:\/\/github\.com\/acme\/shop; commit [0-9a-f]{40}/
    )
    expect(run.main.stdout).toMatch(
      /web \(.*acme\/goodpg@sha256:[0-9a-f]{64}\): verified: .*https:\/\/fulcio\.sigstore\.dev \(certificate chain, 1 transparency log entry, 0 signed timestamps\)/
    )
    const kustomization = sh(repo.origin, ['show', 'main:deploy/kustomization.yaml'])
    expect(kustomization).toContain('newTag: v1')
    expect(kustomization).toContain(`digest: ${digests.goodpg}`)
    expect(
      findLeaks(run.channels(), [{ value: PASSWORD, user: USER }]).filter(
        l => !l.channel.endsWith('.environ')
      )
    ).toEqual([])
  }, 120_000)

  it('refuses another repository, a tampered payload, an untrusted CA, a keyed envelope and no attestation: one error each, nothing written', async () => {
    const repo = configRepo()
    const before = sh(repo.origin, ['rev-parse', 'main'])
    const images = ['good', 'fork', 'tampered', 'stranger', 'keyed', 'bare']
    const run = await deploy({
      repository: repo.url,
      images: images.map(n => `${n}=${registry.host}/acme/${n}:v1`).join('\n')
    })
    expect(run.main.code).not.toBe(0)
    const errors = run.main.errors.filter(e => !e.startsWith('deploy failed'))
    const ref = (n: string) => `${n} \\(${registry.host.replace(/\./g, '\\.')}/acme/${n}:v1\\)`
    expect(errors).toHaveLength(5)
    expect(errors[0]).toMatch(
      new RegExp(
        `^${ref('fork')}: check "identity" failed: the certificate was issued to a workflow run of evil/fork \\(workflow https://github\\.com/evil/fork/\\.github/workflows/ci\\.yml@refs/heads/main\\), expected acme/shop$`
      )
    )
    expect(errors[1]).toMatch(
      new RegExp(`^${ref('tampered')}: check "signature" failed: .*signature verification failed`)
    )
    expect(errors[2]).toMatch(
      new RegExp(
        `^${ref('stranger')}: check "signature" failed: the Sigstore bundle \\(certificate issued by CN=sigstore, O=sigstore\\.mock\\) does not verify against any of 2 trusted roots: https://fulcio\\.githubapp\\.com: Failed to verify certificate chain`
      )
    )
    expect(errors[3]).toMatch(
      new RegExp(
        `^${ref('keyed')}: check "signature" failed: the attestation is a DSSE envelope signed with a key, not a keyless Sigstore bundle`
      )
    )
    expect(errors[4]).toMatch(
      new RegExp(
        `^${ref('bare')}: check "found" failed: no SLSA provenance attestation refers to sha256:`
      )
    )
    expect(run.main.errors.at(-1)).toMatch(/refused 5 of 6 image\(s\); nothing was written/)
    // The config repository is exactly as it was: no commit, no branch.
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(before)
    expect(sh(repo.origin, ['for-each-ref', '--format=%(refname)'])).toBe('refs/heads/main')
    expect(
      findLeaks(run.channels(), [{ value: PASSWORD, user: USER }]).filter(
        l => !l.channel.endsWith('.environ')
      )
    ).toEqual([])
  }, 120_000)

  it("allowed-sources admits the other repository's run, and the statement must still name that run's repository", async () => {
    const repo = configRepo()
    const run = await deploy({
      repository: repo.url,
      images: `fork=${registry.host}/acme/fork:v1`,
      'allowed-sources': 'acme/shop\nevil/fork'
    })
    expect(run.main.code).not.toBe(0)
    expect(run.main.errors[0]).toMatch(
      /^fork \(.*\): check "repository" failed: the provenance says built from https:\/\/github\.com\/acme\/shop, but the certificate was issued to a run of https:\/\/github\.com\/evil\/fork$/
    )
  }, 120_000)

  it('a trusted root that is not one is refused by input name before any registry is asked', async () => {
    writeFileSync(join(ws, 'not-a-root.json'), '{"mediaType":"application/json"}\n')
    const run = await deploy({
      repository: 'https://127.0.0.1:1/none.git',
      images: `app=${registry.host}/acme/good:v1`,
      'sigstore-trusted-root': 'not-a-root.json'
    })
    expect(run.main.code).not.toBe(0)
    expect(run.main.errors[0]).toMatch(
      /^deploy failed: input "sigstore-trusted-root": the file "not-a-root\.json" is not a Sigstore trusted root \(the trusted root has mediaType "application\/json"/
    )
    expect(run.main.stdout).not.toMatch(/Verify the provenance/)
  }, 60_000)
})
