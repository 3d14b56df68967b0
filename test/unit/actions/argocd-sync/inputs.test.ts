import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { getInputs, parseResource } from '../../../../src/actions/argocd-sync/inputs.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'
import { secrets } from '../../../../src/core/secrets.js'

/** A throwaway self-signed CA certificate (public; its key was never kept). */
const CA = readFileSync(
  join(import.meta.dirname, '..', '..', '..', 'fixtures', 'tls', 'test-ca.pem'),
  'utf8'
)
const NOT_A_CERT = '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----'

const base = {
  server: 'https://argocd.example.com/',
  token: 'input-token-123456',
  applications: 'shop-*'
}
const read = (values: Record<string, string>): ReturnType<typeof getInputs> =>
  getInputs(new InputReader(mapInputs({ ...base, ...values })))

describe('argocd-sync inputs', () => {
  it('has sensible defaults', () => {
    const i = read({})
    expect(i).toMatchObject({
      server: 'https://argocd.example.com',
      applications: ['shop-*'],
      waitFor: 'health',
      healthyStates: ['Healthy'],
      timeoutMs: 600_000,
      degradedGraceMs: 60_000,
      onTimeout: 'fail',
      onRunningOperation: 'wait',
      concurrency: 4,
      watch: 'stream',
      pollIntervalMs: 2000,
      insecure: false,
      refresh: undefined
    })
    expect(secrets.values()).toContain('input-token-123456')
  })

  it('reads "source", the source "revision" belongs to (none by default)', () => {
    expect(read({}).source).toBeUndefined()
    expect(read({ source: ' https://github.com/acme/shop-config.git ' }).source).toBe(
      'https://github.com/acme/shop-config.git'
    )
    expect(read({ source: 'values' }).source).toBe('values')
  })

  it.each([
    ['timeout', '300', 300_000],
    ['timeout', '90s', 90_000],
    ['timeout', '5m', 300_000],
    ['timeout', '1h30m', 5_400_000],
    ['degraded-grace', '0', 0]
  ])('%s %j is %d ms', (name, value, ms) => {
    const i = read({ [name]: value })
    expect(name === 'timeout' ? i.timeoutMs : i.degradedGraceMs).toBe(ms)
  })

  it.each([
    [{ timeout: '0' }, /input "timeout": got "0", expected a duration .* at least 1s/],
    [{ timeout: 'forever' }, /input "timeout": got "forever"/],
    [
      { 'wait-for': 'healthy' },
      /input "wait-for": got "healthy", expected one of "operation", "sync", "health"/
    ],
    [{ 'healthy-states': 'Healthy,Fine' }, /input "healthy-states": got "Fine"/],
    [
      { applications: '', selector: '' },
      /set input "applications" \(names or globs\) or "selector"/
    ],
    [{ selector: 'a in b' }, /input "selector": got "a in b"/],
    [{ token: '', username: 'u' }, /"username" needs "password"/],
    [{ token: '' }, /no credentials/],
    [{ username: 'u', password: 'secret-password' }, /exclude each other/],
    [
      { resources: 'Deployment' },
      /input "resources": got "Deployment", expected lines of GROUP:KIND:NAME/
    ],
    [{ 'sync-options': 'ServerSideApply' }, /input "sync-options"/],
    [{ headers: 'Authorization: Bearer x' }, /input "headers": got a value of 13 characters/],
    [{ server: 'ftp://argocd' }, /input "server"/],
    [
      { 'ca-cert': 'missing.pem' },
      /input "ca-cert": got "missing.pem", expected PEM text or the path/
    ],
    [
      { 'ca-cert': NOT_A_CERT },
      /input "ca-cert": got a PEM text of 61 characters \(certificate 1 of 1 does not parse: .*\), expected PEM certificate/
    ],
    [
      {
        'ca-cert': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----'
      },
      /input "ca-cert": got a PEM text of \d+ characters \(holding a "OPENSSH PRIVATE KEY" block\)/
    ],
    [{ server: 'https://argocd.example.com/?x=1' }, /input "server": .*without a \?query/],
    [{ server: 'https://argocd.example.com/#top' }, /input "server": .*or #fragment/],
    [{ server: 'https://argocd.example.com/?' }, /input "server": .*without a \?query/],
    [{ server: `https://${'a'.repeat(300)}.example` }, /input "server": .*at most 253 characters/],
    [{ server: 'https://a.example\nhttps://b.example' }, /input "server": .*without spaces/],
    [{ concurrency: '0' }, /input "concurrency"/],
    [
      { source: 'acme/config\nother' },
      /input "source": got "acme\/config\\nother", expected the repoURL \(or name\) of the application source/
    ],
    [{ refresh: 'soft' }, /input "refresh"/]
  ])('rejects %j', (values, message) => {
    expect(() => read(values as Record<string, string>)).toThrow(message)
  })

  it('accepts an inline PEM certificate; refuses a file that holds none without echoing it', () => {
    expect(read({ 'ca-cert': CA }).ca).toBe(CA)
    const dir = mkdtempSync(join(tmpdir(), 'argocd-inputs-'))
    writeFileSync(join(dir, 'bad.pem'), `${NOT_A_CERT}\n`)
    writeFileSync(join(dir, 'text.pem'), 'root:x:0:0:root:/root:/bin/bash\n')
    const saved = process.env.GITHUB_WORKSPACE
    process.env.GITHUB_WORKSPACE = dir
    try {
      expect(() => read({ 'ca-cert': 'bad.pem' })).toThrow(
        /input "ca-cert": got the file "bad.pem" \(certificate 1 of 1 does not parse/
      )
      expect(() => read({ 'ca-cert': 'text.pem' })).toThrow(
        /^input "ca-cert": got the file "text.pem", expected PEM certificate\(s\)/
      )
    } finally {
      if (saved === undefined) delete process.env.GITHUB_WORKSPACE
      else process.env.GITHUB_WORKSPACE = saved
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('shows a huge server value shortened', () => {
    const huge = `https://${'a'.repeat(120 * 1024)}.example`
    let message = ''
    try {
      read({ server: huge })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/^input "server": got "https:\/\/a+… \(122896 characters\)"/)
    expect(message.length).toBeLessThan(400)
  })

  it('never echoes a secret header value or password in an error', () => {
    expect(() => read({ headers: 'X-Secret' })).toThrow(/got a value of 8 characters/)
  })

  it('parses resources, sync options, headers, ca-cert from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'argocd-inputs-'))
    writeFileSync(join(dir, 'ca.pem'), CA)
    const saved = process.env.GITHUB_WORKSPACE
    process.env.GITHUB_WORKSPACE = dir
    try {
      const i = read({
        resources: 'apps:Deployment:shop/web\n:Service:web',
        'sync-options': 'ServerSideApply=true, PruneLast=true',
        headers: 'CF-Access-Client-Id: id.access\nCF-Access-Client-Secret=s3cr3t-value',
        'ca-cert': 'ca.pem',
        refresh: 'hard',
        'healthy-states': 'Healthy, Suspended'
      })
      expect(i.resources).toEqual([
        { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'web' },
        { group: '', kind: 'Service', name: 'web' }
      ])
      expect(i.syncOptions).toEqual(['ServerSideApply=true', 'PruneLast=true'])
      expect(i.headers).toEqual({
        'cf-access-client-id': 'id.access',
        'cf-access-client-secret': 's3cr3t-value'
      })
      expect(secrets.values()).toContain('s3cr3t-value')
      expect(i.ca).toContain('BEGIN CERTIFICATE')
      expect(i.refresh).toBe('hard')
      expect(i.healthyStates).toEqual(['Healthy', 'Suspended'])
    } finally {
      if (saved === undefined) delete process.env.GITHUB_WORKSPACE
      else process.env.GITHUB_WORKSPACE = saved
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('registers the password with its user pair', () => {
    read({ token: '', username: 'deployer', password: 'pw-for-the-pair' })
    expect(secrets.redact(Buffer.from('deployer:pw-for-the-pair').toString('base64'))).toBe('***')
  })

  it.each([
    ['apps:Deployment:web', { group: 'apps', kind: 'Deployment', name: 'web' }],
    [':ConfigMap:ns/cm', { group: '', kind: 'ConfigMap', namespace: 'ns', name: 'cm' }],
    ['apps:Deployment', undefined],
    ['a:b:c:d', undefined]
  ])('parseResource(%j)', (text, want) => {
    expect(parseResource(text)).toEqual(want)
  })
})
