/**
 * The deploy action in SSH mode, end to end: the committed bundle (dist/deploy) run
 * through the runner harness against real OpenSSH servers on loopback.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { ROOT, runAction, type ActionRun } from '../support/harness.js'
import { freePort, generateKey, startSshd, type TestSshd } from '../support/sshd.js'

const BUNDLE = join(ROOT, 'dist', 'deploy', 'index.js')

let web1: TestSshd
let web2: TestSshd

beforeAll(async () => {
  web1 = await startSshd({ rsaHostKey: true })
  // a second "host": its own files at the same remote paths
  web2 = await startSshd({ bindOver: web1.remoteDir })
  // one deploy key for both hosts
  web2.authorize(web1.userKey.publicKey)
})

const harnessDirs: string[] = []

afterAll(async () => {
  await Promise.all([web1?.stop(), web2?.stop()])
  for (const dir of harnessDirs) rmSync(dir, { recursive: true, force: true })
})

let runs = 0
function workspace(files: Record<string, string>): string {
  const dir = join(web1.dir, `workspace-${++runs}`)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

function deploy(
  inputs: Record<string, string>,
  options: {
    env?: Record<string, string>
    sha?: string
    files?: Record<string, string>
    sampleProcesses?: boolean
  } = {}
): Promise<ActionRun> {
  const run = runAction('deploy', {
    bundle: { main: BUNDLE },
    inputs: {
      mode: 'ssh',
      hosts: `127.0.0.1:${web1.port}`,
      username: web1.username,
      key: web1.userKey.privateKey,
      'known-hosts': `${web1.knownHostsLine}\n${web2.knownHostsLine}\n`,
      source: 'site',
      target: join(web1.remoteDir, 'app'),
      timeout: '60s',
      ...inputs
    },
    env: options.env,
    sha: options.sha ?? createHash('sha1').update(String(Math.random())).digest('hex'),
    workspace: workspace(
      options.files ?? { 'site/index.html': '<h1>v1</h1>\n', 'site/css/app.css': 'body{}\n' }
    ),
    sampleProcesses: options.sampleProcesses,
    timeoutMs: 90_000
  })
  // the harness's temp dir (runner temp, file commands): removed after all tests
  void run.then(r => harnessDirs.push(dirname(r.runnerTemp)))
  return run
}

interface HostOutput {
  host: string
  port: number
  status: string
  release: string
  previous: string | null
  hostKey: string | null
  files: number
  exitCode: number | null
  pruned: string[]
  error: string | null
}
const hostsOf = (run: ActionRun): HostOutput[] =>
  JSON.parse(run.main.outputs.hosts ?? '[]') as HostOutput[]
const failure = (run: ActionRun): string => run.main.errors.join('\n')

/** Channels minus the step's own node process (its environment is the runner's input). */
function channels(run: ActionRun): Record<string, string> {
  const all = run.channels()
  run.main.processes.forEach((p, i) => {
    if (p.argv[1] === BUNDLE) {
      delete all[`main.process[${i}].argv`]
      delete all[`main.process[${i}].environ`]
    }
  })
  return all
}

describe('deploy ssh', () => {
  it('uploads to two hosts in parallel, switches current atomically and keeps N releases', async () => {
    const target = join(web1.remoteDir, 'keep')
    const hosts = `127.0.0.1:${web1.port}\n127.0.0.1:${web2.port}`
    const releases: string[] = []
    for (let i = 1; i <= 3; i++) {
      const run = await deploy(
        {
          hosts,
          target,
          keep: '2',
          script: 'test -f index.html\necho "deployed $CONVEYOR_RELEASE"'
        },
        { files: { 'site/index.html': `<h1>v${i}</h1>\n`, 'site/css/app.css': 'body{}\n' } }
      )
      expect(failure(run)).toBe('')
      expect(run.main.code).toBe(0)
      const release = run.main.outputs.release!
      expect(release).toMatch(/^\d{8}-\d{6}-\d{3}-[0-9a-f]{7}$/)
      releases.push(release)
      const out = hostsOf(run)
      expect(out.map(h => [h.port, h.status, h.files, h.exitCode])).toEqual([
        [web1.port, 'deployed', 2, 0],
        [web2.port, 'deployed', 2, 0]
      ])
      expect(out[0]!.previous).toBe(i === 1 ? null : releases[i - 2])
      expect(out.map(h => h.hostKey)).toEqual([
        `ssh-ed25519 ${web1.fingerprint}`,
        `ssh-ed25519 ${web2.fingerprint}`
      ])
      expect(run.main.stdout).toContain(`deployed ${release}`)
      expect(run.main.summary).toContain(`| 127.0.0.1:${web1.port} | deployed |`)
      expect(run.main.summary).toContain(`| 127.0.0.1:${web2.port} | deployed |`)
      if (i === 3) expect(out[1]!.pruned).toEqual([releases[0]])
    }
    // web2 serves its own files at web1's remote path
    const target2 = join(web2.remoteDir, 'keep')
    for (const dir of [target, target2]) {
      expect(readlinkSync(join(dir, 'current'))).toBe(`releases/${releases[2]}`)
      expect(readFileSync(join(dir, 'current', 'index.html'), 'utf8')).toBe('<h1>v3</h1>\n')
      expect(readdirSync(join(dir, 'releases')).sort()).toEqual(releases.slice(1))
    }
  })

  it('rolls back on a failing script and fails the step with the exit code and last lines', async () => {
    const target = join(web1.remoteDir, 'rollback')
    const good = await deploy({ target })
    expect(good.main.code).toBe(0)
    const goodRelease = good.main.outputs.release!
    const bad = await deploy(
      { target, script: 'echo "migrating"\necho "migration 42 failed" >&2\nexit 5' },
      { files: { 'site/index.html': '<h1>broken</h1>\n' } }
    )
    expect(bad.main.code).toBe(1)
    expect(failure(bad)).toContain('the script exited with code 5; last lines:')
    expect(failure(bad)).toContain('migration 42 failed')
    expect(hostsOf(bad)[0]).toMatchObject({
      status: 'rolled-back',
      exitCode: 5,
      previous: goodRelease
    })
    expect(readlinkSync(join(target, 'current'))).toBe(`releases/${goodRelease}`)
    expect(readFileSync(join(target, 'current', 'index.html'), 'utf8')).toBe('<h1>v1</h1>\n')
    expect(readdirSync(join(target, 'releases'))).toEqual([goodRelease])
    expect(bad.main.summary).toContain('rolled-back')
  })

  it('refuses a wrong host key, names the key types the server offered, uploads nothing', async () => {
    const target = join(web1.remoteDir, 'wrong-key')
    const impostor = generateKey(join(web1.dir, 'impostor'))
    const line = `[127.0.0.1]:${web1.port} ${impostor.publicKey.split(' ').slice(0, 2).join(' ')}`
    const run = await deploy({ target, 'known-hosts': line })
    expect(run.main.code).toBe(1)
    const message = failure(run)
    expect(message).toContain(`host key verification failed for 127.0.0.1:${web1.port}`)
    expect(message).toContain(`the server presented a ssh-ed25519 key ${web1.fingerprint}`)
    expect(message).toMatch(
      /The server offered host key types: ssh-ed25519, rsa-sha2-512, rsa-sha2-256/
    )
    expect(existsSync(target)).toBe(false)
  })

  it('pins by fingerprint', async () => {
    const target = join(web1.remoteDir, 'fingerprint')
    const run = await deploy({ target, 'known-hosts': '', fingerprints: web1.fingerprint })
    expect(failure(run)).toBe('')
    expect(run.main.code).toBe(0)
  })

  it('a canary secret passed via env reaches the script but no remote ps and no local channel', async () => {
    const target = join(web1.remoteDir, 'canary')
    const secret = canary('SSHDEPLOY')
    const passphrase = canary('PASSPHRASE')
    const key = generateKey(join(web1.dir, 'canary-key'), { passphrase })
    web1.authorize(key.publicKey)
    const script = [
      // sample the remote process list while the script (and its secret env) runs
      'sleep 0.2 &',
      'ps -eo args > "$CONVEYOR_TARGET/ps.txt"',
      'wait',
      'printf %s "$DEPLOY_TOKEN" | sha256sum | cut -d" " -f1 > "$CONVEYOR_TARGET/seen.txt"',
      'echo "plain: $DEPLOY_TOKEN"',
      'echo "base64: $(printf %s "$DEPLOY_TOKEN" | base64 -w0)"',
      'echo "double: $(printf %s "$DEPLOY_TOKEN" | base64 -w0 | base64 -w0)"',
      'echo "hex: $(printf %s "$DEPLOY_TOKEN" | od -An -tx1 | tr -d " \\n")"'
    ].join('\n')
    // every process on this machine (sshd and its sessions included) sampled for the whole run
    const sampled = join(web1.dir, 'all-processes.txt')
    const sampler = spawn(
      'bash',
      ['-c', 'while :; do ps -eo args; sleep 0.02; done > "$1"', 'x', sampled],
      {
        stdio: 'ignore'
      }
    )
    let run: ActionRun
    try {
      run = await deploy(
        { target, env: 'DEPLOY_TOKEN', script, key: key.privateKey, passphrase },
        { env: { DEPLOY_TOKEN: secret }, sampleProcesses: true }
      )
    } finally {
      sampler.kill('SIGKILL')
    }
    const allProcesses = readFileSync(sampled, 'utf8')
    expect(allProcesses).toContain('sshd')
    expect(allProcesses).toContain('bash -s')
    expect(
      findLeaks({ 'all processes': allProcesses }, [{ value: secret }, { value: passphrase }])
    ).toEqual([])
    expect(failure(run)).toBe('')
    expect(run.main.code).toBe(0)
    // the script saw the value
    expect(readFileSync(join(target, 'seen.txt'), 'utf8').trim()).toBe(
      createHash('sha256').update(secret).digest('hex')
    )
    // the remote process list held the script but never the secret
    const ps = readFileSync(join(target, 'ps.txt'), 'utf8')
    expect(ps).toContain('bash -s')
    expect(findLeaks({ 'remote ps': ps }, [{ value: secret }, { value: passphrase }])).toEqual([])
    // masked, and redacted in every encoding on every local channel
    expect(run.main.masks).toContain(secret)
    expect(run.main.stdout).toContain('plain: ***')
    expect(run.main.stdout).toContain('double: ***')
    expect(findLeaks(channels(run), [{ value: secret }, { value: passphrase }])).toEqual([])
    // nothing secret left in the target
    expect(readdirSync(target).sort()).toEqual(['current', 'ps.txt', 'releases', 'seen.txt'])
  })

  it('an unreachable host fails with host:port and the cause; fail-fast off still deploys the others', async () => {
    const target = join(web1.remoteDir, 'unreachable')
    const dead = await freePort()
    const run = await deploy({
      target,
      hosts: `127.0.0.1:${dead}\n127.0.0.1:${web1.port}`,
      'fail-fast': 'false'
    })
    expect(run.main.code).toBe(1)
    expect(failure(run)).toContain(`cannot reach 127.0.0.1:${dead}: connect ECONNREFUSED`)
    expect(hostsOf(run).map(h => h.status)).toEqual(['failed', 'deployed'])
    expect(existsSync(join(target, 'current'))).toBe(true)
  })

  it('in parallel with fail-fast, a failure cancels a host still connecting', async () => {
    const target = join(web1.remoteDir, 'parallel-fail-fast')
    const dead = await freePort()
    // a host that accepts TCP but never speaks SSH: without cancellation it would hang
    const silent = createServer(() => undefined)
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as AddressInfo).port
    try {
      const run = await deploy({ target, hosts: `127.0.0.1:${port}\n127.0.0.1:${dead}` })
      expect(run.main.code).toBe(1)
      expect(hostsOf(run).map(h => h.status)).toEqual(['cancelled', 'failed'])
      expect(hostsOf(run)[0]!.error).toContain('connecting cancelled: another host failed')
      expect(run.main.durationMs).toBeLessThan(20_000)
      expect(failure(run)).toContain(`cannot reach 127.0.0.1:${dead}`)
    } finally {
      silent.close()
    }
  })

  it('in sequence with fail-fast, hosts after a failure are skipped', async () => {
    const target = join(web1.remoteDir, 'sequence')
    const dead = await freePort()
    const run = await deploy({
      target,
      hosts: `127.0.0.1:${dead}\n127.0.0.1:${web1.port}`,
      parallel: 'false'
    })
    expect(run.main.code).toBe(1)
    expect(hostsOf(run).map(h => h.status)).toEqual(['failed', 'skipped'])
    expect(existsSync(target)).toBe(false)
  })

  it('validates every input before connecting: a bad known-hosts line names its line number', async () => {
    const target = join(web1.remoteDir, 'invalid')
    const run = await deploy({ target, 'known-hosts': `${web1.knownHostsLine}\nbogus line` })
    expect(run.main.code).toBe(1)
    expect(failure(run)).toContain('input "known-hosts", line 2: too few fields')
    expect(existsSync(target)).toBe(false)
  })

  it('a refused key and a wrong passphrase are clear errors that never echo the secret', async () => {
    const stranger = generateKey(join(web1.dir, 'stranger'))
    const refused = await deploy({ key: stranger.privateKey })
    expect(failure(refused)).toContain(`refused the key for user "${web1.username}"`)
    const passphrase = canary('RIGHTPASS')
    const wrong = canary('WRONGPASS')
    const key = generateKey(join(web1.dir, 'locked'), { passphrase })
    const run = await deploy({ key: key.privateKey, passphrase: wrong })
    expect(run.main.code).toBe(1)
    expect(failure(run)).toContain('input "passphrase": could not decrypt the private key')
    expect(findLeaks(channels(run), [{ value: wrong }, { value: passphrase }])).toEqual([])
  })
})
