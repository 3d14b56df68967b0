import { describe, expect, it } from 'vitest'
import { ExecError, childEnv, displayCommand, exec, lastLines } from '../../../src/core/exec.js'
import { memoryLogger } from '../../../src/core/logger.js'
import { secrets } from '../../../src/core/secrets.js'

const NODE = process.execPath

async function rejection(p: Promise<unknown>): Promise<ExecError> {
  try {
    await p
  } catch (error) {
    expect(error).toBeInstanceOf(ExecError)
    return error as ExecError
  }
  throw new Error('expected the promise to reject')
}

describe('exec', () => {
  it('passes argv verbatim: spaces, quotes, $, backticks, globs, empty strings', async () => {
    const args = ['a b', 'c"d', "e'f", '$HOME', '`id`', '*', '', 'g\\h', '; rm -rf /']
    const r = await exec(NODE, [
      '-e',
      'console.log(JSON.stringify(process.argv.slice(1)))',
      ...args
    ])
    expect(JSON.parse(r.stdout)).toEqual(args)
    expect(r.code).toBe(0)
    expect(r.timedOut).toBe(false)
    expect(r.truncated).toBe(false)
  })

  it('writes input to stdin and closes it', async () => {
    const input = 'line one\nline two with unicode é\n'
    const r = await exec('cat', [], { input })
    expect(r.stdout).toBe(input)
    const b = await exec('wc', ['-c'], { input: Buffer.alloc(100_000, 1) })
    expect(b.stdout.trim()).toBe('100000')
  })

  it('closes stdin when there is no input (a reader does not hang)', async () => {
    const r = await exec('cat', [], { timeoutMs: 5000 })
    expect(r.stdout).toBe('')
    expect(r.timedOut).toBe(false)
  })

  it('passes cwd and env', async () => {
    const r = await exec(NODE, ['-e', 'console.log(process.cwd(), process.env.FOO)'], {
      cwd: '/tmp',
      env: { PATH: process.env.PATH, FOO: 'bar' }
    })
    expect(r.stdout.trim()).toBe('/tmp bar')
  })

  it('never passes the action inputs (INPUT_*) to a child, with or without env', async () => {
    const script =
      'console.log(Object.keys(process.env).filter(k => /^(INPUT_|KEEP)/i.test(k)).sort().join(","))'
    const r = await exec(NODE, ['-e', script], {
      env: { PATH: process.env.PATH, 'INPUT_REGISTRY-PASSWORD': 'pw', input_lower: 'x', KEEP: '1' }
    })
    expect(r.stdout.trim()).toBe('KEEP')
    process.env.INPUT_CONVEYOR_TEST_SECRET = 'from-process-env'
    try {
      const d = await exec(NODE, ['-e', script])
      expect(d.stdout.trim()).toBe('')
    } finally {
      delete process.env.INPUT_CONVEYOR_TEST_SECRET
    }
  })

  it("never passes the runner's request tokens to a child: stripping is the default", async () => {
    const script =
      'console.log(Object.keys(process.env).filter(k => /TOKEN|KEEP/.test(k)).sort().join(","))'
    const r = await exec(NODE, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        ACTIONS_RUNTIME_TOKEN: 'rt',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc',
        GITHUB_TOKEN: 'gh',
        KEEP: '1'
      }
    })
    expect(r.stdout.trim()).toBe('KEEP')
  })

  it('kills a process when its abort signal fires, and says so', async () => {
    const started = Date.now()
    const abort = new AbortController()
    setTimeout(() => abort.abort(), 100)
    const e = await rejection(exec('sleep', ['30'], { signal: abort.signal }))
    expect(Date.now() - started).toBeLessThan(3000)
    expect(e.message).toBe('sleep: aborted')
  })

  it('kills a process that runs past the timeout', async () => {
    const started = Date.now()
    const e = await rejection(exec('sleep', ['30'], { timeoutMs: 300 }))
    expect(Date.now() - started).toBeLessThan(3000)
    expect(e.message).toContain('timed out after')
    expect(e.result.timedOut).toBe(true)
    const allowed = await exec('sleep', ['30'], { timeoutMs: 200, allowFailure: true })
    expect(allowed.timedOut).toBe(true)
    expect(allowed.signal).toBe('SIGTERM')
  })

  it('settles on timeout even when a grandchild keeps the output pipes open', async () => {
    const started = Date.now()
    const e = await rejection(exec('sh', ['-c', 'sleep 10; echo done'], { timeoutMs: 300 }))
    expect(e.result.timedOut).toBe(true)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const started = Date.now()
    const r = await exec(
      NODE,
      ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'],
      { timeoutMs: 500, allowFailure: true }
    )
    expect(r.timedOut).toBe(true)
    expect(r.signal).toBe('SIGKILL')
    expect(Date.now() - started).toBeLessThan(9000)
  }, 15_000)

  it('bounds captured output to the tail and says it truncated', async () => {
    const script =
      'for (let i = 0; i < 20000; i++) process.stdout.write(`line ${i}\\n`); process.stderr.write("E".repeat(5000) + "END")'
    const r = await exec(NODE, ['-e', script], { maxOutputBytes: 1000 })
    expect(r.truncated).toBe(true)
    expect(Buffer.byteLength(r.stdout)).toBeLessThanOrEqual(1000)
    expect(r.stdout.endsWith('line 19999\n')).toBe(true)
    expect(r.stdout).not.toContain('line 0\n')
    expect(r.stderr.endsWith('END')).toBe(true)
    expect(Buffer.byteLength(r.stderr)).toBeLessThanOrEqual(1000)
  })

  it('streams chunks to onStdout and onStderr', async () => {
    const out: string[] = []
    const err: string[] = []
    await exec(NODE, ['-e', 'console.log("o"); console.error("e")'], {
      onStdout: c => out.push(c.toString()),
      onStderr: c => err.push(c.toString())
    })
    expect(out.join('')).toBe('o\n')
    expect(err.join('')).toBe('e\n')
  })

  it('a callback that throws stops the process and rejects with its error (no uncaught exception)', async () => {
    const started = Date.now()
    const refused = new Error('refusing this chunk')
    await expect(
      exec(NODE, ['-e', 'console.log("first"); setInterval(() => console.log("more"), 50)'], {
        onStdout: () => {
          throw refused
        },
        allowFailure: true
      })
    ).rejects.toBe(refused)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('a non-zero exit throws with the tail of stderr, redacted', async () => {
    const secret = 'exec-secret-value-77'
    secrets.add(secret)
    const script = `for (let i = 0; i < 40; i++) console.error("noise " + i); console.error("auth failed for ${secret}"); process.exit(3)`
    const e = await rejection(exec(NODE, ['-e', script]))
    expect(e.message).toContain('exited with code 3')
    expect(e.message).toContain('auth failed for ***')
    expect(e.message).not.toContain(secret)
    expect(e.message).not.toContain('noise 0\n')
    expect(e.message).toContain('noise 39')
    expect(e.message.split('\n').length).toBeLessThanOrEqual(22)
    expect(e.result.code).toBe(3)
    const allowed = await exec(NODE, ['-e', 'process.exit(4)'], { allowFailure: true })
    expect(allowed.code).toBe(4)
  })

  it('uses stdout for the message when stderr is empty', async () => {
    const e = await rejection(exec(NODE, ['-e', 'console.log("only stdout"); process.exit(1)']))
    expect(e.message).toContain('only stdout')
  })

  it('hides secretArgs and registered secrets in the logged and thrown command line', async () => {
    const log = memoryLogger()
    const registered = 'registered-secret-xyz'
    secrets.add(registered)
    const e = await rejection(
      exec(NODE, ['-e', 'process.exit(2)', '--password', 'unregistered-pw', registered], {
        secretArgs: [3],
        logger: log
      })
    )
    expect(log.lines[0]!.message).toMatch(
      /^\$ .*node -e process.exit\(2\) --password \*\*\* \*\*\*$/
    )
    expect(log.text()).not.toContain('unregistered-pw')
    expect(e.message).not.toContain('unregistered-pw')
    expect(e.message).not.toContain(registered)
  })

  it('ENOENT says the command was not found', async () => {
    const e = await rejection(exec('no-such-command-conveyor', ['x']))
    expect(e.message).toBe('no-such-command-conveyor: command not found')
    expect(e.result.code).toBe(-1)
  })
})

describe('displayCommand and lastLines', () => {
  it.each([
    [['plain', 'args'], [], 'git plain args'],
    [['a b'], [], 'git "a b"'],
    [[''], [], 'git ""'],
    [['x"y'], [], 'git "x\\"y"'],
    [['-p', 'pw'], [1], 'git -p ***'],
    [['$VAR'], [], 'git "$VAR"']
  ])('%j secret %j → %s', (args, secretArgs, shown) => {
    expect(displayCommand('git', args, secretArgs)).toBe(shown)
  })

  it('lastLines keeps the last n non-empty lines', () => {
    expect(lastLines('a\n\nb\r\nc\n\n', 2)).toBe('b\nc')
    expect(lastLines('', 3)).toBe('')
  })
})

describe('childEnv: the environment every child gets', () => {
  it('drops INPUT_* and runner tokens', () => {
    const env = childEnv({
      PATH: '/bin',
      'INPUT_REGISTRY-PASSWORD': 'x',
      INPUT_TAGS: 'y',
      ACTIONS_RUNTIME_TOKEN: 't',
      GITHUB_TOKEN: 'g'
    })
    expect(env).toEqual({ PATH: '/bin' })
  })
})
