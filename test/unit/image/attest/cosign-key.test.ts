/**
 * cosign's encrypted key format, judged by implementations other than ours: the key
 * file is written with libsodium's secretbox and Python's scrypt (PyNaCl, Debian
 * python3-nacl) around an openssl-made PKCS#8 key, and our signature with the key read
 * from it verifies with `openssl dgst -verify`. (Debian's skopeo, which could sign with
 * such a file, is built with sigstore disabled: "Debian-local change: sigstore disabled".)
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { pae, signEnvelope } from '../../../../src/image/attest/dsse.js'
import { parseSigningKey } from '../../../../src/image/attest/keys.js'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { canary, findLeaks } from '../../../support/canary.js'

const PYTHON = '/usr/bin/python3'
const haveNacl = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import nacl.secret'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

const dir = mkdtempSync(join(tmpdir(), 'conveyor-cosign-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A P-256 key from openssl, wrapped in cosign's format by PyNaCl; paths of both forms. */
function cosignKey(password: string): { keyFile: string; pubPem: string; passwordFile: string } {
  const pem = join(dir, 'k.pem')
  execFileSync('openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    pem
  ])
  execFileSync('openssl', [
    'pkcs8',
    '-topk8',
    '-nocrypt',
    '-in',
    pem,
    '-outform',
    'DER',
    '-out',
    join(dir, 'k.der')
  ])
  const passwordFile = join(dir, 'pw.txt')
  writeFileSync(passwordFile, password, { mode: 0o600 })
  const script = join(import.meta.dirname, '..', '..', '..', 'support', 'cosign-keygen.py')
  const keyFile = join(dir, 'cosign.key')
  writeFileSync(keyFile, execFileSync(PYTHON, [script, join(dir, 'k.der'), passwordFile]))
  return {
    keyFile,
    pubPem: execFileSync('openssl', ['pkey', '-in', pem, '-pubout']).toString(),
    passwordFile
  }
}

describe.skipIf(!haveNacl)('cosign encrypted keys (ENCRYPTED SIGSTORE PRIVATE KEY)', () => {
  const password = canary('COSIGNPW')
  const made = cosignKey(password)
  const pem = readFileSync(made.keyFile, 'utf8')

  it('reads the key; openssl verifies what we sign with it', () => {
    const key = parseSigningKey(pem, password)
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}')
    const env = signEnvelope('application/vnd.in-toto+json', payload, key)
    writeFileSync(join(dir, 'pub.pem'), made.pubPem)
    writeFileSync(join(dir, 'pae.bin'), pae(env.payloadType, payload))
    writeFileSync(join(dir, 'sig.der'), Buffer.from(env.signatures[0]!.sig, 'base64'))
    const out = execFileSync(
      'openssl',
      ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', 'pae.bin'],
      { cwd: dir }
    ).toString()
    expect(out).toContain('Verified OK')
  })

  it("cosign 1.x's block name is read too; a wrong or missing password is a clear error without the secret", () => {
    const v1 = pem.replace(/SIGSTORE PRIVATE KEY/g, 'COSIGN PRIVATE KEY')
    expect(parseSigningKey(v1, password).keyid).toBe(parseSigningKey(pem, password).keyid)
    const wrong = canary('WRONGPW')
    let message = ''
    try {
      parseSigningKey(pem, wrong)
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError)
      message = (error as Error).message
    }
    expect(message).toBe('input "signing-key-password" does not decrypt "signing-key"')
    expect(findLeaks({ message }, [{ value: wrong }, { value: password }])).toEqual([])
    expect(() => parseSigningKey(pem)).toThrow(
      /is a cosign key, which is always encrypted: set "signing-key-password"/
    )
  })

  it('refuses scrypt parameters it does not know (a huge N would be a denial of service)', () => {
    const body = /-----\n([\s\S]*?)\n-----END/.exec(pem)![1]!.replace(/\s/g, '')
    const doc = JSON.parse(Buffer.from(body, 'base64').toString()) as {
      kdf: { params: { N: number } }
    }
    doc.kdf.params.N = 1 << 30
    const evil = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(doc)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`
    expect(() => parseSigningKey(evil, password)).toThrow(
      /scrypt parameters \{"N":1073741824,"r":8,"p":1\}, expected one of N=32768/
    )
  })
})
