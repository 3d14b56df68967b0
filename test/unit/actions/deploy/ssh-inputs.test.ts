import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { summaryOf } from '../../../../src/actions/deploy/report.js'
import { getSshInputs } from '../../../../src/actions/deploy/ssh-inputs.js'
import { hostLabel } from '../../../../src/deploy/ssh/run.js'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'
import { secrets } from '../../../../src/core/secrets.js'
import { canary } from '../../../support/canary.js'
import { generateKey, type KeyPair } from '../../../support/sshd.js'

let dir: string
let workspace: string
let key: KeyPair
let locked: KeyPair
const PASS = 'the-locked-passphrase'
const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIDNOYVse6AnHkTwuu0uKQAlaVNc/VveHSRJ6vEWQacc8'
const FP = 'SHA256:razqhxiCRcqoTkPIux2sLGLohFlI01+x3FaSEDfLyJI'

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-ssh-inputs-'))
  key = generateKey(join(dir, 'key'))
  locked = generateKey(join(dir, 'locked'), { passphrase: PASS })
  workspace = join(dir, 'ws')
  mkdirSync(join(workspace, 'site'), { recursive: true })
  writeFileSync(join(workspace, 'site', 'index.html'), 'x')
  writeFileSync(join(workspace, 'app.tar'), 'x')
  // A symlink out of the workspace.
  symlinkSync(dir, join(workspace, 'escape'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const base = (): Record<string, string> => ({
  hosts: 'web1\nweb2:2222',
  username: 'deploy',
  key: key.privateKey,
  'known-hosts': `web1 ssh-ed25519 ${ED}`,
  source: 'site',
  target: '/srv/app'
})

const read = (over: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  getSshInputs(new InputReader(mapInputs({ ...base(), ...over })), env, workspace)

function configError(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigurationError')
}

describe('getSshInputs', () => {
  it('reads defaults', () => {
    const i = read({})
    expect(i.hosts).toEqual([
      { host: 'web1', port: 22 },
      { host: 'web2', port: 2222 }
    ])
    expect(i).toMatchObject({
      username: 'deploy',
      target: '/srv/app',
      keep: 5,
      parallel: true,
      failFast: true,
      timeoutMs: 600_000,
      env: {},
      sources: [join(workspace, 'site')]
    })
    expect(i.policy.knownHosts).toHaveLength(1)
    expect(i.policy.insecure).toBe(false)
    expect(i.script).toBeUndefined()
  })

  it('reads every option', () => {
    const i = read({
      port: '2200',
      hosts: 'a\nb:22',
      'known-hosts': '',
      fingerprints: FP,
      source: 'site\napp.tar',
      keep: '3',
      script: '  echo hi\n',
      parallel: 'false',
      'fail-fast': 'false',
      timeout: '1m30s'
    })
    expect(i.hosts).toEqual([
      { host: 'a', port: 2200 },
      { host: 'b', port: 22 }
    ])
    expect(i.policy.fingerprints).toEqual([FP])
    expect(i.sources).toEqual([join(workspace, 'site'), join(workspace, 'app.tar')])
    expect(i).toMatchObject({ keep: 3, parallel: false, failFast: false, timeoutMs: 90_000 })
    expect(i.script).toBe('  echo hi\n')
  })

  it('env names take their values from the environment and register them as secrets', () => {
    const token = canary('ENVTOKEN')
    const other = canary('OTHER')
    const i = read({ env: 'DEPLOY_TOKEN, OTHER_ONE' }, { DEPLOY_TOKEN: token, OTHER_ONE: other })
    expect(i.env).toEqual({ DEPLOY_TOKEN: token, OTHER_ONE: other })
    expect(secrets.redact(`${token} ${other}`)).toBe('*** ***')
  })

  it('registers the key and passphrase as secrets', () => {
    read({ key: locked.privateKey, passphrase: PASS })
    expect(secrets.redact(PASS)).toBe('***')
    const line = locked.privateKey.split('\n')[1]!
    expect(secrets.redact(line)).toBe('***')
  })

  it.each([
    [{ hosts: '' }, 'input "hosts" is required in ssh mode'],
    [{ hosts: 'a b' }, 'input "hosts": got "a b"'],
    [{ username: '' }, 'input "username" is required'],
    [{ username: 'a;b' }, 'input "username"'],
    [{ key: '' }, 'input "key" is required'],
    [{ key: 'garbage' }, 'input "key": not a private key'],
    [{ 'known-hosts': '' }, 'ssh mode needs the hosts\' keys pinned: set input "known-hosts"'],
    [
      { 'known-hosts': `@cert-authority *.example.com ssh-ed25519 ${ED}` },
      '@cert-authority lines are not supported'
    ],
    [
      { 'known-hosts': `web1 ssh-ed25519 ${ED}\n\nweb2 ssh-ed25519` },
      'input "known-hosts", line 3'
    ],
    [{ fingerprints: 'MD5:00' }, 'input "fingerprints": item 1'],
    [{ 'insecure-skip-host-key': 'yes' }, 'input "insecure-skip-host-key"'],
    [{ source: 'missing' }, 'input "source": "missing" does not exist'],
    [{ source: '../outside' }, 'is outside the workspace'],
    [{ source: 'escape' }, 'input "source": "escape" is outside the workspace'],
    [{ target: '' }, 'input "target" is required'],
    [
      { target: 'relative/dir' },
      'input "target": got "relative/dir", expected an absolute remote directory'
    ],
    [{ target: '/srv/../etc' }, 'without ".." segments'],
    [{ target: '/' }, 'a directory other than "/"'],
    [{ keep: '0' }, 'input "keep"'],
    [{ port: '70000' }, 'input "port"'],
    [{ parallel: 'maybe' }, 'input "parallel"'],
    [{ timeout: 'soon' }, 'input "timeout"'],
    [{ timeout: '1s' }, 'at least 5s'],
    [{ env: 'NOT-A-NAME' }, 'input "env": got "NOT-A-NAME"'],
    [{ env: 'PATH' }, 'a name not reserved'],
    [{ env: 'CONVEYOR_RELEASE' }, 'a name not reserved'],
    [{ env: 'UNSET_TOKEN' }, 'input "env": UNSET_TOKEN is not set in the step\'s environment']
  ])('%j is refused: %s', (over, message) => {
    expect(configError(() => read(over))).toContain(message)
  })

  it('a wrong or missing passphrase is refused without echoing anything secret', () => {
    const wrong = canary('WRONG')
    const message = configError(() => read({ key: locked.privateKey, passphrase: wrong }))
    expect(message).toBe(
      'input "passphrase": could not decrypt the private key with it (wrong passphrase?)'
    )
    expect(configError(() => read({ key: locked.privateKey }))).toContain('set input "passphrase"')
  })

  it('insecure-skip-host-key allows no pins', () => {
    expect(read({ 'known-hosts': '', 'insecure-skip-host-key': 'true' }).policy.insecure).toBe(true)
  })
})

describe('hostLabel', () => {
  it.each([
    [{ host: 'web1', port: 22 }, 'web1:22'],
    [{ host: '10.0.0.1', port: 2222 }, '10.0.0.1:2222'],
    [{ host: 'fe80::1', port: 22 }, '[fe80::1]:22']
  ])('%j -> %s', (target, label) => {
    expect(hostLabel(target)).toBe(label)
  })
})

describe('summaryOf', () => {
  it('renders one row per host', () => {
    const md = summaryOf('R1', '/srv/app', [
      {
        host: 'web1',
        port: 22,
        status: 'deployed',
        release: 'R1',
        previous: 'R0',
        files: 3,
        bytes: 10,
        exitCode: 0,
        pruned: ['Rm1'],
        durationMs: 1500
      },
      {
        host: 'web2',
        port: 2222,
        status: 'rolled-back',
        release: 'R1',
        files: 3,
        bytes: 10,
        exitCode: 4,
        pruned: [],
        durationMs: 900,
        error: 'the script exited with code 4; last lines:\nboom | x'
      }
    ]).toString()
    expect(md).toContain('SSH deploy of release `R1` to `/srv/app`')
    expect(md).toContain('| web1:22 | deployed | R0 | 3 (10 B) | 0 | 1 | 1.5s |   |')
    expect(md).toContain(
      '| web2:2222 | rolled-back |   | 3 (10 B) | 4 | 0 | 900ms | the script exited with code 4; last lines:<br>boom \\| x |'
    )
  })
})
