/**
 * The runner harness end to end: the example action (test/fixtures/example-action)
 * bundled with ncc, run on Node 24 as the runner runs it (main, then post with the
 * saved state), with its outputs, masks, errors, summary and leak scan asserted.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { ROOT, runAction, type ActionRun } from '../support/harness.js'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

let dir = ''
const bundle = { main: '', post: '' }
const runs: ActionRun[] = []

/**
 * run.channels() without the action's own process: the harness's /proc sampler counts
 * the step's root process among the "descendants", and the runner legitimately gives
 * that process its INPUT_* variables. Only processes the action started are channels.
 */
function channels(run: ActionRun): Record<string, string> {
  const all = run.channels()
  for (const [label, step] of [
    ['main', run.main],
    ['post', run.post]
  ] as const) {
    step?.processes.forEach((p, i) => {
      if (p.argv[1] === bundle.main || p.argv[1] === bundle.post) {
        delete all[`${label}.process[${i}].argv`]
        delete all[`${label}.process[${i}].environ`]
      }
    })
  }
  return all
}

async function example(
  inputs: Record<string, string>,
  options: Parameters<typeof runAction>[1] = {}
): Promise<ActionRun> {
  const run = await runAction('example', { bundle, inputs, ...options })
  runs.push(run)
  return run
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conveyor-example-bundle-'))
  const ncc = join(ROOT, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
  const fixture = join(ROOT, 'test', 'fixtures', 'example-action')
  for (const [entry, out] of [
    ['index.ts', 'main'],
    ['post.ts', 'post']
  ] as const) {
    execFileSync(
      process.execPath,
      [ncc, 'build', join(fixture, entry), '-o', join(dir, out), '-q'],
      {
        cwd: ROOT,
        stdio: 'pipe',
        env: { ...process.env, NODE_OPTIONS: '' }
      }
    )
    bundle[out] = join(dir, out, 'index.js')
  }
}, 180_000)

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  for (const run of runs) rmSync(join(run.runnerTemp, '..'), { recursive: true, force: true })
})

describe('harness: the example action end to end', () => {
  const password = canary('PASSWORD')
  let run: ActionRun

  beforeAll(async () => {
    run = await example(
      { name: 'Ada Lovelace', count: '2', timeout: '1m30s', password, username: 'deploy-bot' },
      { sampleProcesses: true }
    )
  }, 60_000)

  it('main and post exit 0 on Node 24', () => {
    expect(run.main.stderr).toBe('')
    expect(run.main.code).toBe(0)
    expect(run.post?.code).toBe(0)
    expect(run.main.outputs['node-version']).toMatch(/^v24\./)
    expect(run.main.errors).toEqual([])
  })

  it('outputs come back from the name<<delimiter file, typed values as strings', () => {
    expect(run.main.outputs).toMatchObject({
      greeting: 'hello Ada Lovelace',
      count: '2',
      'timeout-ms': '90000',
      'password-length': String(password.length),
      lines: 'first line\nsecond line'
    })
    // The output that would hold the password is refused, naming it, never rewritten.
    expect(run.main.outputs.echo).toBeUndefined()
    expect(run.main.outputs['echo-refused']).toMatch(
      /^output "echo" holds a secret of \d+ characters \(input "password"\) or one of its encodings/
    )
  })

  it('::add-mask:: covers the secret and its derived encodings before any use', () => {
    const masks = run.main.masks
    expect(masks).toContain(password)
    expect(masks).toContain(b64(password))
    expect(masks).toContain(b64(b64(password)))
    expect(masks).toContain(encodeURIComponent(password))
    expect(masks).toContain(Buffer.from(password).toString('hex'))
    expect(masks).toContain(b64(`deploy-bot:${password}`))
    // every mask comes before the first line that is not a mask
    const lines = run.main.stdout.split('\n')
    const firstOther = lines.findIndex(l => l !== '' && !l.startsWith('::add-mask::'))
    const lastMask = lines.map(l => l.startsWith('::add-mask::')).lastIndexOf(true)
    expect(lastMask).toBeLessThan(firstOther)
  })

  it('log lines holding the secret are redacted, groups and the child command are logged', () => {
    expect(run.main.stdout).toContain('hello Ada Lovelace (2)')
    expect(run.main.stdout).toContain('password is ***')
    expect(run.main.stdout).toContain('basic auth is ***')
    expect(run.main.stdout).toContain('::group::Greet')
    expect(run.main.stdout).toMatch(/\$ \S+node -e /)
  })

  it('the post step got the state main saved and cleaned up its file', () => {
    expect(run.main.state['started']).toBe('yes')
    expect(run.main.state['data-file']).toBe(join(run.runnerTemp, 'conveyor', 'example.json'))
    expect(run.post!.stdout).toContain('post: started=yes')
    expect(run.post!.stdout).toContain(`post: removed ${run.main.state['data-file']}`)
    expect(existsSync(run.main.state['data-file']!)).toBe(false)
    expect(run.post!.summary).toBe('post saw started=yes\n\n')
  })

  it('the step summary is written and redacted', () => {
    expect(run.main.summary).toContain('### Example')
    expect(run.main.summary).toContain('| Ada Lovelace | *** |')
  })

  it('the process sampler saw the child process (stdin carried the secret, not argv)', () => {
    const child = run.main.processes.find(p => p.argv.includes('-e'))
    expect(child).toBeDefined()
    expect(child!.argv.join(' ')).not.toContain(password)
  })

  it('findLeaks finds no canary in any channel, in any encoding', () => {
    const all = channels(run)
    expect(Object.keys(all)).toEqual(
      expect.arrayContaining(['main.stdout', 'main.stderr', 'main.GITHUB_OUTPUT', 'post.summary'])
    )
    const leaks = findLeaks(all, [{ value: password, user: 'deploy-bot' }])
    expect(
      leaks,
      JSON.stringify(leaks.map(l => [l.channel, l.encoding, all[l.channel]!.slice(0, 3000)]))
    ).toEqual([])
  })
})

describe('harness: the runner context', () => {
  it('passes the event, sha, ref, repository, workspace, RUNNER_TEMP and env overrides', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'conveyor-example-ws-'))
    try {
      const run = await example(
        { name: 'Ada' },
        {
          eventName: 'pull_request',
          event: { action: 'synchronize', number: 7 },
          sha: 'a'.repeat(40),
          ref: 'refs/pull/7/merge',
          repository: 'octo/repo',
          workspace,
          env: { EXAMPLE_EXTRA: 'x y', HOME: undefined }
        }
      )
      expect(run.main.code).toBe(0)
      expect(JSON.parse(run.main.outputs['context']!)).toEqual({
        eventName: 'pull_request',
        eventAction: 'synchronize',
        sha: 'a'.repeat(40),
        ref: 'refs/pull/7/merge',
        repository: 'octo/repo',
        cwd: workspace,
        workspace,
        runnerTemp: run.runnerTemp,
        extra: 'x y',
        hasHome: false
      })
    } finally {
      rmSync(workspace, { recursive: true, force: true })
    }
  })
})

describe('harness: failures', () => {
  it.each([
    [{ count: '9' }, 'input "count": got "9", expected an integer >= 1 and <= 5'],
    [{ count: 'two' }, 'input "count"'],
    [{ name: '' }, 'input "name" is required but was empty'],
    [
      { name: 'Robert"); DROP' },
      'input "name": got "Robert\\"); DROP", expected letters and spaces'
    ],
    [{ timeout: 'soon' }, 'input "timeout"'],
    [{ leak: 'everywhere' }, 'input "leak"'],
    [{ username: 'Bad User' }, 'input "username"']
  ])('bad input %j fails main with ::error:: naming the input', async (bad, message) => {
    const password = canary('PW')
    const run = await example({ name: 'Ada', password, ...bad })
    expect(run.main.code).toBe(1)
    expect(run.main.errors).toHaveLength(1)
    expect(run.main.errors[0]).toContain('example failed: ')
    expect(run.main.errors[0]).toContain(message)
    expect(run.main.outputs).toEqual({})
    // post still runs (as on the runner) and only reports what it found
    expect(run.post!.code).toBe(0)
    expect(run.post!.stdout).toContain('post: started=(none)')
    expect(findLeaks(channels(run), [{ value: password }])).toEqual([])
  })

  it('a failing post step only warns', async () => {
    const run = await example({ name: 'Ada' }, { env: { EXAMPLE_POST_FAIL: 'true' } })
    expect(run.main.code).toBe(0)
    expect(run.post!.code).toBe(0)
    expect(run.post!.warnings).toEqual(['example cleanup: cleanup went wrong'])
  })

  it('post: false skips the post step', async () => {
    const run = await example({ name: 'Ada' }, { post: false })
    expect(run.post).toBeUndefined()
  })
})

describe('harness: failure paths leak nothing either', () => {
  let server: http.Server
  let base = ''
  const seen: string[] = []
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? '')
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 5000)
      if (req.url === '/ok') return void res.end('fine')
      // A server that quotes the credentials it rejected, in several encodings.
      const auth = req.headers.authorization ?? ''
      const token = auth.replace(/^Bearer /, '')
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          error: `bad token ${token}`,
          b64: Buffer.from(token).toString('base64'),
          hex: Buffer.from(token).toString('hex')
        })
      )
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise(r => server.close(r))
  })

  it('a child that prints the secret and fails: the error quotes it redacted', async () => {
    const password = canary('CHILDFAIL')
    const run = await example({ name: 'Ada', password, child: 'fail' }, { sampleProcesses: true })
    expect(run.main.code).toBe(1)
    expect(run.main.errors[0]).toMatch(
      /^example failed: .* exited with code 3:\nlogin failed for \*\*\*$/
    )
    expect(run.post!.stdout).toContain('post: removed')
    expect(findLeaks(channels(run), [{ value: password }])).toEqual([])
  })

  it('a child that hangs is killed at the timeout input', async () => {
    const password = canary('CHILDHANG')
    const started = Date.now()
    const run = await example({ name: 'Ada', password, child: 'hang', timeout: '1s' })
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(run.main.code).toBe(1)
    expect(run.main.errors[0]).toContain('timed out after 1s')
    expect(findLeaks(channels(run), [{ value: password }])).toEqual([])
  })

  it('a server 500 that echoes the token in several encodings: nothing leaks', async () => {
    const password = canary('HTTP500')
    seen.length = 0
    const run = await example({ name: 'Ada', password, url: `${base}/fail` })
    expect(seen).toEqual([`Bearer ${password}`, `Bearer ${password}`]) // retried once
    expect(run.main.code).toBe(1)
    expect(run.main.errors[0]).toContain('server said 500')
    expect(run.main.errors[0]).toContain('bad token ***')
    expect(run.main.stdout).toContain('HTTP 500; retrying')
    expect(findLeaks(channels(run), [{ value: password }])).toEqual([])
  })

  it('a server that does not answer in time: a clear timeout, nothing leaks', async () => {
    const password = canary('HTTPSLOW')
    const run = await example({ name: 'Ada', password, url: `${base}/slow`, timeout: '1s' })
    expect(run.main.code).toBe(1)
    expect(run.main.errors[0]).toMatch(
      /GET http:\/\/127\.0\.0\.1:\d+\/slow: timed out after 1000ms/
    )
    expect(findLeaks(channels(run), [{ value: password }])).toEqual([])
  })

  it('a server that answers: the status becomes an output', async () => {
    const run = await example({ name: 'Ada', password: canary('HTTPOK'), url: `${base}/ok` })
    expect(run.main.code).toBe(0)
    expect(run.main.outputs['http-status']).toBe('200')
  })
})

describe('harness: the scanner finds a leak through a channel the registry does not cover', () => {
  it.each([
    ['file', /^file:.*leaked\.txt$/, 'plain'],
    ['stderr-raw', /^main\.stderr$/, 'double-base64'],
    ['argv', /^main\.process\[\d+\]\.argv$/, 'plain']
  ])('leak=%s is found', async (leak, channel, encoding) => {
    const password = canary('LEAKME')
    const run = await example({ name: 'Ada', password, leak }, { sampleProcesses: true })
    expect(run.main.code).toBe(0)
    const leaks = findLeaks(channels(run), [{ value: password }])
    expect(leaks.length).toBeGreaterThan(0)
    expect(leaks.some(l => channel.test(l.channel) && l.encoding === encoding)).toBe(true)
    // nothing else leaked: every hit is in the channel we leaked through
    expect(leaks.every(l => channel.test(l.channel))).toBe(true)
  })
})
