import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ExecError } from '../../../src/core/exec.js'
import { git, gitEnv, gitText } from '../../../src/core/git.js'
import { secrets } from '../../../src/core/secrets.js'

let dir = ''
const ident = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com'
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-git-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('git', () => {
  it('runs git in cwd over argv and returns trimmed stdout', async () => {
    const repo = join(dir, 'repo')
    await git(['init', '-q', '-b', 'main', repo], { cwd: dir, isolated: true })
    writeFileSync(join(repo, 'file name with spaces.txt'), 'x\n')
    await git(['add', '--', 'file name with spaces.txt'], { cwd: repo, isolated: true })
    await git(['commit', '-q', '-m', 'first "commit" $HOME'], {
      cwd: repo,
      isolated: true,
      env: ident
    })
    expect(await gitText(['log', '-1', '--format=%s'], { cwd: repo })).toBe('first "commit" $HOME')
    expect(await gitText(['rev-parse', '--abbrev-ref', 'HEAD'], { cwd: repo })).toBe('main')
    expect(await gitText(['ls-files'], { cwd: repo })).toBe('file name with spaces.txt')
  })

  it('a failing command throws ExecError with git’s message (C locale)', async () => {
    let error: unknown
    try {
      await git(['rev-parse', 'no-such-ref'], { cwd: join(dir, 'repo') })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ExecError)
    expect((error as Error).message).toContain('exited with code 128')
    expect((error as Error).message).toContain('unknown revision')
  })

  it('isolated ignores the global configuration; not isolated uses it', async () => {
    const home = join(dir, 'home')
    rmSync(home, { recursive: true, force: true })
    await git(['init', '-q', home], { cwd: dir, isolated: true })
    writeFileSync(join(home, '.gitconfig'), '[conveyor]\n\tprobe = from-global\n')
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') }
    const open = await git(['config', '--get', 'conveyor.probe'], {
      cwd: home,
      env,
      allowFailure: true
    })
    expect(open.stdout.trim()).toBe('from-global')
    const closed = await git(['config', '--get', 'conveyor.probe'], {
      cwd: home,
      env,
      isolated: true,
      allowFailure: true
    })
    expect(closed.code).toBe(1)
    expect(closed.stdout).toBe('')
  })

  it('never prompts for credentials: an auth-requiring remote fails fast', async () => {
    // A server that answers every request with 401 Basic: git would prompt on a TTY.
    const server = net.createServer(s => {
      s.on('data', () =>
        s.end(
          'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
        )
      )
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    try {
      const started = Date.now()
      const r = await git(['ls-remote', `http://127.0.0.1:${port}/repo.git`], {
        cwd: dir,
        allowFailure: true,
        timeoutMs: 20_000
      })
      expect(r.code).not.toBe(0)
      expect(r.timedOut).toBe(false)
      expect(r.stderr).toMatch(/terminal prompts disabled|Authentication failed|could not read/i)
      expect(Date.now() - started).toBeLessThan(15_000)
    } finally {
      await new Promise(r => server.close(r))
    }
  })

  it('a token given through --config-env reaches git by environment, not argv', async () => {
    const token = 'git-token-secret-5150'
    secrets.add(token)
    const r = await git(
      ['--config-env=http.extraheader=CONVEYOR_AUTH', 'config', '--get', 'http.extraheader'],
      { cwd: join(dir, 'repo'), env: { CONVEYOR_AUTH: `AUTHORIZATION: bearer ${token}` } }
    )
    expect(r.stdout.trim()).toBe(`AUTHORIZATION: bearer ${token}`)
  })
})

describe('gitEnv', () => {
  it('disables prompts, sets the C locale, merges extras last', () => {
    const env = gitEnv({ LC_ALL: 'en_US.UTF-8', EXTRA: '1' })
    expect(env.GIT_TERMINAL_PROMPT).toBe('0')
    expect(env.GCM_INTERACTIVE).toBe('never')
    expect(env.GIT_ASKPASS).toBe('')
    expect(env.LANG).toBe('C')
    expect(env.LC_ALL).toBe('en_US.UTF-8')
    expect(env.EXTRA).toBe('1')
    expect(env.GIT_CONFIG_GLOBAL).toBeUndefined()
    const iso = gitEnv({}, true)
    expect(iso.GIT_CONFIG_NOSYSTEM).toBe('1')
    expect(iso.GIT_CONFIG_GLOBAL).toBe('/dev/null')
  })
})
