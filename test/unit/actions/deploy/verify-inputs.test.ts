/**
 * deploy's verification inputs: `verify` and its defaults, `verify-key` as PEM text or a
 * path inside the workspace, keyless without it (`sigstore-trusted-root` as JSON text,
 * JSON lines, or a path inside the workspace; none: fetched with TUF), `allowed-sources`
 * lines, the registry password registered as a secret, and each mistake named by input;
 * SSH mode's `images` lines; the refusal line names the image and the failed check.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { getVerifyInputs, refusalLine, sshImages } from '../../../../src/actions/deploy/verify.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'
import { secrets } from '../../../../src/core/secrets.js'
import { canary } from '../../../support/canary.js'

const ws = mkdtempSync(join(tmpdir(), 'conveyor-verify-inputs-'))
afterAll(() => rmSync(ws, { recursive: true, force: true }))
writeFileSync(join(ws, 'not-a-root.txt'), 'hello\n')
const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const PUB = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const env = { GITHUB_WORKSPACE: ws, GITHUB_REPOSITORY: 'acme/shop', GITHUB_ACTOR: 'octocat' }
const read = (values: Record<string, string>) =>
  getVerifyInputs(new InputReader(mapInputs(values)), env)

describe('getVerifyInputs', () => {
  it('defaults to none, this repository as the allowed source', () => {
    expect(read({})).toMatchObject({ mode: 'none', allowedSources: ['acme/shop'] })
  })
  it('provenance with a PEM key, or a path to one, and allowed-sources lines', () => {
    const a = read({
      verify: 'provenance',
      'verify-key': PUB,
      'allowed-sources': 'acme/shop\nacme/tools'
    })
    expect(a.publicKey?.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(a.allowedSources).toEqual(['acme/shop', 'acme/tools'])
    writeFileSync(join(ws, 'pub.pem'), PUB)
    expect(read({ verify: 'provenance', 'verify-key': 'pub.pem' }).publicKey).toBeDefined()
  })
  it('provenance without verify-key is keyless: trusted roots from the input, or none (TUF)', () => {
    expect(read({ verify: 'provenance' })).toMatchObject({ mode: 'provenance' })
    expect(read({ verify: 'provenance' }).publicKey).toBeUndefined()
    expect(read({ verify: 'provenance' }).trustedRoots).toBeUndefined()
    const doc = (uri: string) =>
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        certificateAuthorities: [{ uri }]
      })
    expect(
      read({ verify: 'provenance', 'sigstore-trusted-root': doc('https://fulcio.example') })
        .trustedRoots
    ).toHaveLength(1)
    mkdirSync(join(ws, '.github'), { recursive: true })
    writeFileSync(join(ws, '.github', 'trusted_root.jsonl'), `${doc('a')}\n${doc('b')}\n`)
    expect(
      read({
        verify: 'provenance',
        'sigstore-trusted-root': '.github/trusted_root.jsonl'
      }).trustedRoots?.map(r => r.certificateAuthorities[0]!.uri)
    ).toEqual(['a', 'b'])
  })
  it.each([
    [{ verify: 'signature' }, /input "verify"/],
    [
      { verify: 'provenance', 'verify-key': PUB, 'sigstore-trusted-root': '{}' },
      /inputs "verify-key" and "sigstore-trusted-root" exclude each other/
    ],
    [
      { verify: 'provenance', 'sigstore-trusted-root': 'missing.json' },
      /input "sigstore-trusted-root": got "missing\.json", expected the path of a Sigstore trusted_root\.json inside the workspace/
    ],
    [
      { verify: 'provenance', 'sigstore-trusted-root': '../../etc/passwd' },
      /input "sigstore-trusted-root": "\.\.\/\.\.\/etc\/passwd" is outside the workspace/
    ],
    [
      { verify: 'provenance', 'sigstore-trusted-root': '{"mediaType": "application/json"}' },
      /input "sigstore-trusted-root": JSON text of 33 characters is not a Sigstore trusted root \(the trusted root has mediaType "application\/json", expected application\/vnd\.dev\.sigstore\.trustedroot\+json;version=0\.1\); give a trusted_root\.json/
    ],
    [
      { verify: 'provenance', 'sigstore-trusted-root': 'not-a-root.txt' },
      /input "sigstore-trusted-root": the file "not-a-root\.txt" is not a Sigstore trusted root \(line 1 is not JSON/
    ],
    [{ verify: 'provenance', 'verify-key': 'missing.pem' }, /input "verify-key"/],
    [{ verify: 'provenance', 'verify-key': '../../etc/passwd' }, /verify-key/],
    [
      {
        verify: 'provenance',
        'verify-key': pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
      },
      /input "verify-key": got a PEM block of type "PRIVATE KEY", expected -----BEGIN PUBLIC KEY-----/
    ],
    [
      { verify: 'provenance', 'verify-key': PUB, 'allowed-sources': 'not a repo' },
      /input "allowed-sources"/
    ]
  ])('refuses %j', (values, message) => {
    expect(() => read(values as Record<string, string>)).toThrow(message)
  })
  it('registers the registry password as a secret, with the actor as the default user', () => {
    const password = canary('REGPASS')
    const v = read({ 'registry-password': password })
    expect(v.username).toBe('octocat')
    expect(secrets.redact(`x ${password} y`)).not.toContain(password)
  })
})

describe('sshImages and refusalLine', () => {
  it('reads name=reference lines and refuses anything else, naming the input', () => {
    expect(
      sshImages(
        new InputReader(
          mapInputs({
            images: 'app=ghcr.io/acme/app:1\nweb=ghcr.io/acme/web@sha256:' + 'a'.repeat(64)
          })
        )
      )
    ).toEqual([
      { label: 'app', ref: 'ghcr.io/acme/app:1' },
      { label: 'web', ref: `ghcr.io/acme/web@sha256:${'a'.repeat(64)}` }
    ])
    expect(() => sshImages(new InputReader(mapInputs({ images: 'ghcr.io/acme/app:1' })))).toThrow(
      /input "images"/
    )
  })
  it('names the image and the failed check', () => {
    const line = refusalLine(
      { label: 'cart', ref: 'ghcr.io/acme/cart:1' },
      {
        ok: false,
        checks: [
          { check: 'found', ok: true, detail: 'a provenance attestation is attached' },
          { check: 'repository', ok: false, detail: 'built from "https://github.com/evil/fork"' }
        ],
        failed: {
          check: 'repository',
          ok: false,
          detail: 'built from "https://github.com/evil/fork"'
        }
      }
    )
    expect(line).toBe(
      'cart (ghcr.io/acme/cart:1): check "repository" failed: built from "https://github.com/evil/fork"'
    )
  })
})
