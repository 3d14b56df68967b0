import { describe, expect, it } from 'vitest'
import { sshShimInstalled } from '../../../../src/deploy/ssh/shim.js'

describe('ssh-shim', () => {
  it('provides __dirname for ssh2 inside an ESM bundle', () => {
    expect(sshShimInstalled).toBe(true)
    expect(typeof (globalThis as { __dirname?: string }).__dirname).toBe('string')
  })
})
