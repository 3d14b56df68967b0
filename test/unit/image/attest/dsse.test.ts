/**
 * DSSE signing and key parsing judged by openssl: keys come from `openssl genpkey`
 * (plain, `-aes256` with a password, SEC1 from `openssl ecparam`), our signatures over
 * the PAE verify with `openssl dgst -sha256 -verify`, and openssl's signatures verify
 * with ours. Passwords reach openssl through files, never argv. Errors name the input
 * and never show the key or the password.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  pae,
  parseEnvelope,
  signEnvelope,
  verifyEnvelope
} from '../../../../src/image/attest/dsse.js'
import { keyIdOf, parseSigningKey, parseVerifyKey } from '../../../../src/image/attest/keys.js'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { secrets } from '../../../../src/core/secrets.js'
import { canary, findLeaks } from '../../../support/canary.js'

const dir = mkdtempSync(join(tmpdir(), 'conveyor-dsse-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function openssl(args: string[], input?: Buffer): string {
  return execFileSync('openssl', args, {
    cwd: dir,
    input,
    stdio: ['pipe', 'pipe', 'pipe']
  }).toString()
}

let n = 0
/** A fresh key file from openssl; `password` goes through a file. */
function genKey(options: { password?: string; curve?: string; sec1?: boolean } = {}): string {
  const file = join(dir, `key-${++n}.pem`)
  const curve = options.curve ?? 'P-256'
  if (options.sec1) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file])
  } else if (options.password) {
    const pw = join(dir, `pw-${n}.txt`)
    writeFileSync(pw, options.password, { mode: 0o600 })
    openssl([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      `ec_paramgen_curve:${curve}`,
      '-aes256',
      '-pass',
      `file:${pw}`,
      '-out',
      file
    ])
  } else {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', file])
  }
  return file
}

function publicPem(keyFile: string, password?: string): string {
  const out = join(dir, `pub-${++n}.pem`)
  const pass = password ? ['-passin', `file:${join(dir, `pw-for-pub-${n}.txt`)}`] : []
  if (password) writeFileSync(join(dir, `pw-for-pub-${n}.txt`), password, { mode: 0o600 })
  openssl(['pkey', '-in', keyFile, ...pass, '-pubout', '-out', out])
  return readFileSync(out, 'utf8')
}

/** openssl's verdict on a DER signature over `message` with a PEM public key. */
function opensslVerifies(pubPem: string, message: Buffer, sigDer: Buffer): boolean {
  const id = ++n
  writeFileSync(join(dir, `v-${id}.pub`), pubPem)
  writeFileSync(join(dir, `v-${id}.bin`), message)
  writeFileSync(join(dir, `v-${id}.sig`), sigDer)
  try {
    const out = openssl([
      'dgst',
      '-sha256',
      '-verify',
      `v-${id}.pub`,
      '-signature',
      `v-${id}.sig`,
      `v-${id}.bin`
    ])
    return out.includes('Verified OK')
  } catch {
    return false
  }
}

describe('pae', () => {
  it('matches the DSSE specification example', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    )
  })
  it('counts bytes, not characters', () => {
    expect(pae('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é')
  })
})

describe('signing and verifying, against openssl', () => {
  const statement = Buffer.from(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', x: 'é' })
  )
  const type = 'application/vnd.in-toto+json'

  it.each([
    ['PKCS#8 plain', {}],
    ['PKCS#8 encrypted with -aes256', { password: 'correct horse battery' }],
    ['SEC1 (openssl ecparam)', { sec1: true }]
  ])('%s: our signature verifies with openssl dgst -verify', (_name, opts) => {
    const file = genKey(opts)
    const key = parseSigningKey(
      readFileSync(file, 'utf8'),
      (opts as { password?: string }).password
    )
    const env = signEnvelope(type, statement, key)
    const pub = publicPem(file, (opts as { password?: string }).password)
    expect(
      opensslVerifies(pub, pae(type, statement), Buffer.from(env.signatures[0]!.sig, 'base64'))
    ).toBe(true)
    // and not over anything else (the PAE, not the bare payload, is what is signed)
    expect(opensslVerifies(pub, statement, Buffer.from(env.signatures[0]!.sig, 'base64'))).toBe(
      false
    )
  })

  it('an openssl signature over the PAE verifies with ours; a tampered payload does not', () => {
    const file = genKey()
    const pub = publicPem(file)
    writeFileSync(join(dir, 'pae.bin'), pae(type, statement))
    openssl(['dgst', '-sha256', '-sign', file, '-out', 'sig.der', 'pae.bin'])
    const sig = readFileSync(join(dir, 'sig.der')).toString('base64')
    const env = {
      payloadType: type,
      payload: statement.toString('base64'),
      signatures: [{ keyid: '', sig }]
    }
    const check = verifyEnvelope(parseEnvelope(JSON.stringify(env)), parseVerifyKey(pub))
    expect(check.ok).toBe(true)
    const tampered = {
      ...env,
      payload: Buffer.from(statement.toString().replace('é', 'e')).toString('base64')
    }
    expect(verifyEnvelope(tampered, parseVerifyKey(pub))).toMatchObject({
      ok: false,
      problem: 'bad-signature'
    })
    const retyped = { ...env, payloadType: 'application/json' }
    expect(verifyEnvelope(retyped, parseVerifyKey(pub))).toMatchObject({
      ok: false,
      problem: 'bad-signature'
    })
  })

  it('another key does not verify; no signature is its own problem', () => {
    const a = parseSigningKey(readFileSync(genKey(), 'utf8'))
    const b = parseVerifyKey(publicPem(genKey()))
    const env = signEnvelope(type, statement, a)
    expect(verifyEnvelope(env, b)).toMatchObject({ ok: false, problem: 'bad-signature' })
    expect(verifyEnvelope({ ...env, signatures: [] }, b)).toMatchObject({
      ok: false,
      problem: 'no-signature'
    })
  })

  it('keyid is the hex SHA-256 of the DER public key openssl writes', () => {
    const file = genKey()
    const der = execFileSync('openssl', ['pkey', '-in', file, '-pubout', '-outform', 'DER'])
    const key = parseSigningKey(readFileSync(file, 'utf8'))
    expect(key.keyid).toBe(createHash('sha256').update(der).digest('hex'))
    expect(keyIdOf(parseVerifyKey(publicPem(file)))).toBe(key.keyid)
  })
})

describe('key errors name the input and never show the key or password', () => {
  it('an encrypted key without a password', () => {
    const pem = readFileSync(genKey({ password: 'pw-1234-abcd' }), 'utf8')
    expect(() => parseSigningKey(pem)).toThrow(
      /input "signing-key" is an encrypted private key: set "signing-key-password"/
    )
  })
  it('a wrong password: the error names signing-key-password and leaks neither secret', () => {
    const good = canary('GOODPW')
    const bad = canary('BADPW')
    const pem = readFileSync(genKey({ password: good }), 'utf8')
    let message = ''
    try {
      parseSigningKey(pem, bad)
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError)
      message = (error as Error).message
    }
    expect(message).toMatch(/input "signing-key-password" does not decrypt "signing-key"/)
    expect(findLeaks({ message }, [{ value: good }, { value: bad }])).toEqual([])
    expect(message).not.toContain(pem.split('\n')[1]!)
    // the key and the password were registered for masking before anything else
    expect(secrets.values()).toContain(bad)
    expect(secrets.values()).toContain(pem)
  })
  it.each([
    ['P-384', { curve: 'P-384' }, /EC key on curve secp384r1, expected an ECDSA P-256 key/]
  ])('a %s key', (_n, opts, re) => {
    expect(() => parseSigningKey(readFileSync(genKey(opts), 'utf8'))).toThrow(re)
  })
  it('an RSA key', () => {
    const file = join(dir, 'rsa.pem')
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file])
    expect(() => parseSigningKey(readFileSync(file, 'utf8'))).toThrow(
      /got a rsa key, expected an ECDSA P-256 key/
    )
  })
  it('no PEM at all, a certificate, a public key where a private one belongs', () => {
    expect(() => parseSigningKey('not a key at all')).toThrow(/without a PEM header/)
    expect(() => parseSigningKey(publicPem(genKey()))).toThrow(/PEM block of type "PUBLIC KEY"/)
    expect(() => parseVerifyKey(readFileSync(genKey(), 'utf8'))).toThrow(
      /input "verify-key": got a PEM block of type "PRIVATE KEY", expected -----BEGIN PUBLIC KEY-----/
    )
  })
})
