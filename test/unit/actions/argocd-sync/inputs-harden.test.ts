/**
 * argocd-sync inputs where credentials used to leak or travel in the clear: a token in
 * the server's query is never echoed, plain HTTP to another machine is refused unless
 * insecure-http (which warns), the headers error says the documented syntax, and a
 * ca-cert path is confined to the workspace.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { getInputs } from '../../../../src/actions/argocd-sync/inputs.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'

const TOKEN = 'argo-token-canary-0123456789'
const read = (values: Record<string, string>) =>
  getInputs(
    new InputReader(mapInputs({ token: 'account-token-1234', applications: 'shop', ...values }))
  )

function messageOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    return (e as Error).message
  }
  throw new Error('expected an error')
}

describe('argocd-sync: server', () => {
  it('a token in the query is never echoed: the error shows scheme, host and path', () => {
    const m = messageOf(() => read({ server: `https://argocd.example.com/?token=${TOKEN}` }))
    expect(m).toBe(
      'input "server": got "https://argocd.example.com/", expected the Argo CD base URL without a ?query or #fragment (e.g. https://argocd.example.com)'
    )
  })

  it('http:// to another machine is refused, naming insecure-http', () => {
    expect(messageOf(() => read({ server: 'http://argocd.example.com' }))).toMatch(
      /^input "server": got "http:\/\/argocd\.example\.com\/", plain HTTP to another machine: the token or password, the session and the headers would cross the network in clear text; use https:\/\/, or set input "insecure-http" to true/
    )
  })

  it('insecure-http: accepted with a warning; loopback http needs nothing', () => {
    expect(read({ server: 'http://argocd.lan', 'insecure-http': 'true' }).cleartextWarning).toMatch(
      /^input "insecure-http" is true: server http:\/\/argocd\.lan\/ is plain HTTP/
    )
    expect(read({ server: 'http://127.0.0.1:8080' }).cleartextWarning).toBeUndefined()
    expect(read({ server: 'https://argocd.example.com' }).cleartextWarning).toBeUndefined()
  })
})

describe('argocd-sync: headers and ca-cert', () => {
  it('the headers error says "Name: value", as the docs do', () => {
    expect(
      messageOf(() => read({ server: 'https://a.example', headers: 'NoColonHere' }))
    ).toContain('expected lines of the form "Name: value"')
  })

  it('a ca-cert path outside the workspace is refused before it is read', () => {
    const ws = mkdtempSync(join(tmpdir(), 'argocd-ca-'))
    const saved = process.env.GITHUB_WORKSPACE
    process.env.GITHUB_WORKSPACE = ws
    try {
      for (const path of ['/proc/self/environ', '../../etc/passwd']) {
        expect(messageOf(() => read({ server: 'https://a.example', 'ca-cert': path }))).toMatch(
          /^input "ca-cert": ".*" is outside the workspace/
        )
      }
    } finally {
      if (saved === undefined) delete process.env.GITHUB_WORKSPACE
      else process.env.GITHUB_WORKSPACE = saved
      rmSync(ws, { recursive: true, force: true })
    }
  })
})
