/**
 * The build action's supply-chain inputs: provenance and sbom default to on, a signing
 * key (PKCS#8 encrypted, as openssl writes it) and its password registered as secrets,
 * and a wrong password named by input without showing either value.
 */
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { getAttestInputs } from '../../../../src/actions/build/attest-inputs.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'
import { secrets } from '../../../../src/core/secrets.js'
import { canary } from '../../../support/canary.js'

const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })

describe('getAttestInputs (build)', () => {
  it('provenance and sbom default to true; no key means unsigned or keyless', () => {
    expect(getAttestInputs(new InputReader(mapInputs({})))).toEqual({
      provenance: true,
      sbom: true,
      signingKey: undefined,
      githubToken: undefined
    })
  })
  it('reads an encrypted PKCS#8 key with its password; both are secrets', () => {
    const password = canary('KEYPASS')
    const pem = pair.privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password })
      .toString()
    const a = getAttestInputs(
      new InputReader(
        mapInputs({ 'signing-key': pem, 'signing-key-password': password, sbom: 'false' })
      )
    )
    expect(a.sbom).toBe(false)
    expect(a.signingKey?.keyid).toMatch(/^[0-9a-f]{64}$/)
    const body = pem.split('\n')[1]!
    expect(secrets.redact(`${password} ${body}`)).not.toMatch(
      new RegExp(`${password}|${body.slice(0, 20)}`)
    )
  })
  it('a wrong password names both inputs and shows neither value', () => {
    const pem = pair.privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right-password' })
      .toString()
    const wrong = canary('WRONG')
    let message = ''
    try {
      getAttestInputs(
        new InputReader(mapInputs({ 'signing-key': pem, 'signing-key-password': wrong }))
      )
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/input "signing-key-password" does not decrypt "signing-key"/)
    expect(message).not.toContain(wrong)
    expect(message).not.toContain(pem.split('\n')[1]!)
  })
})
