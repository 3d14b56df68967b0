/**
 * docker/metadata-action's own test table (test/fixtures/metadata-action, converted from its
 * __tests__/meta.test.ts, Apache-2.0) run through the COMMITTED build bundle with
 * `dry-run: true`, as a workflow runs it: each row's event (GITHUB_EVENT_NAME, GITHUB_REF,
 * GITHUB_SHA, the payload file, DOCKER_METADATA_PR_HEAD_SHA) and its `tags`, `flavor` and
 * `labels` inputs. Every row with a `tags` input must give the row's tags, version and revision
 * label through the step's outputs; the rows without one list how Conveyor's defaults differ
 * (test/support/metadata-action.ts gives each reason). No registry runs: a dry run needs none.
 *
 * What the row's harness fixes, the run is given the way a workflow gives it: "now" (mocked to
 * 2020-01-10T00:30:00Z) through SOURCE_DATE_EPOCH; the commit date (mocked to the same instant
 * in every row) through the payload's commit timestamps, where a push run reads it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { ROOT, runAction, type ActionRun } from '../support/harness.js'
import { CONVEYOR_DEFAULTS, fixture, payloadOf, type Case } from '../support/metadata-action.js'
import { startSink } from '../support/reliability-env.js'

/** The harness's "now", as SOURCE_DATE_EPOCH. */
const EPOCH = String(Date.parse(fixture.harness.now) / 1000)
/** Bundles run at once: 2 cores, other work beside. */
const CONCURRENCY = 3

/** The run's variables a row's env file sets (the rest are the harness's own). */
const RUN_VARIABLES = ['GITHUB_EVENT_NAME', 'GITHUB_REF', 'GITHUB_SHA', 'GITHUB_REPOSITORY']

/**
 * The image a row's references are for. metadata-action takes several images; Conveyor builds
 * one: the row's first enabled one (lower-cased: metadata-action lower-cases the name, Conveyor
 * refuses an upper-case `image` input), or `user/app` for a row with none (its tags are names).
 */
function imageOf(c: Case): string {
  const first = c.inputs.images.find(i => !i.split(',').includes('enable=false'))
  return (first?.split(',')[0] ?? 'user/app').toLowerCase()
}

/** The references the row expects for that image. */
function expectedRefs(c: Case): string[] {
  const image = imageOf(c)
  if (c.inputs.images.length === 0) return c.expected.tags.map(t => `${image}:${t}`)
  return c.expected.tags.filter(t => t.startsWith(`${image}:`))
}

/** The row's payload, with the harness's commit date where a push payload holds the commit. */
function payloadFor(c: Case): Record<string, unknown> {
  const payload = structuredClone(payloadOf(c)) as Record<string, unknown>
  const at = fixture.harness.commitDate
  if (Array.isArray(payload.commits)) {
    payload.commits = payload.commits.map(x => ({ ...(x as object), timestamp: at }))
  }
  if (payload.head_commit && typeof payload.head_commit === 'object') {
    payload.head_commit = { ...payload.head_commit, timestamp: at }
  }
  return payload
}

/** Run the committed bundle for a row with `dry-run: true`. */
function dryRun(c: Case, tags: readonly string[]): Promise<ActionRun> {
  const rowEnv = { ...fixture.environments[c.environment]!.env, ...c.extraEnv }
  const env: Record<string, string | undefined> = { SOURCE_DATE_EPOCH: EPOCH }
  // A variable the env file does not set is unset in the run, as in the row's harness.
  for (const name of RUN_VARIABLES) env[name] = rowEnv[name]
  for (const [k, v] of Object.entries(c.extraEnv ?? {})) env[k] = v
  return runAction('build', {
    event: payloadFor(c),
    env,
    post: false,
    timeoutMs: 60_000,
    inputs: {
      image: imageOf(c),
      'dry-run': 'true',
      tags: tags.join('\n'),
      flavor: (c.inputs.flavor ?? []).join('\n'),
      labels: labelLines(c).join('\n')
    }
  })
}

/**
 * A row's label lines that are labels. metadata-action drops a line without `=` with a warning;
 * Conveyor refuses it, naming the input (a test below): those rows run without that line.
 */
function labelLines(c: Case): string[] {
  return (c.inputs.labels ?? []).filter(l => l.includes('='))
}

/** Run `work` over `items`, `limit` at a time, results in order. */
async function pool<T, R>(items: readonly T[], limit: number, work: (t: T) => Promise<R>) {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await work(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return out
}

const withTags = fixture.cases.filter(c => (c.inputs.tags ?? []).length > 0)
const withoutTags = fixture.cases.filter(c => (c.inputs.tags ?? []).length === 0)
const runs = new Map<string, ActionRun>()

beforeAll(async () => {
  expect(readFileSync(join(ROOT, 'dist', 'build', 'index.js'), 'utf8')).toContain('dry-run')
  const all = [
    ...withTags.map(c => [c, c.inputs.tags!] as const),
    ...withoutTags.map(c => [c, [] as string[]] as const)
  ]
  const results = await pool(all, CONCURRENCY, ([c, tags]) => dryRun(c, tags))
  all.forEach(([c], i) => runs.set(c.id, results[i]!))
}, 600_000)

/** Tag names of a run's `tags` output (a JSON array of references). */
function refsOf(run: ActionRun): string[] {
  return JSON.parse(run.main.outputs.tags ?? 'null') as string[]
}

describe("metadata-action's table through the build bundle (dry-run)", () => {
  it('runs all 115 rows with a tags input and the 16 without', () => {
    expect(withTags).toHaveLength(115)
    expect(withoutTags).toHaveLength(16)
  })

  it.each(withTags.map(c => [c.id, c] as const))(
    '%s: its tags, version and revision label',
    (_id, c) => {
      const run = runs.get(c.id)!
      expect(run.main.code, run.main.stdout + run.main.stderr).toBe(0)
      const out = run.main.outputs
      expect(refsOf(run)).toEqual(expectedRefs(c))
      // The version is the first tag metadata-action makes (`main`), '' when none.
      const names = expectedRefs(c).map(r => r.slice(r.lastIndexOf(':') + 1))
      const version = c.expected.version
        ? (c.expected.version.main ?? '')
        : (c.expected.versionMain ?? names[0] ?? '')
      expect(out.version).toBe(version)
      const labels = (out.labels ?? '').split('\n')
      const revision =
        c.expected.labels?.find(l => l.startsWith('org.opencontainers.image.revision=')) ??
        `org.opencontainers.image.revision=${fixture.environments[c.environment]!.env.GITHUB_SHA}`
      expect(labels).toContain(revision)
      expect(labels).toContain(`org.opencontainers.image.version=${version}`)
      expect(labels).toContain(`org.opencontainers.image.created=${fixture.harness.now}`)
      // Nothing was built, pushed or logged in to.
      expect(run.main.stdout).not.toMatch(/buildah|buildx|Log in to/)
      expect(run.main.summary).toContain('dry run (nothing built or pushed)')
    }
  )
})

describe('a dry run needs no registry', () => {
  it('with a registry and a login: no connection, no login written, no leak', async () => {
    const sink = await startSink()
    const password = canary('DRYRUN-PASS')
    try {
      const run = await runAction('build', {
        ref: 'refs/tags/v3.1.0',
        sha: '860c1904a1ce19322e91ac35af1ab07466440c37',
        event: { repository: { default_branch: 'main', html_url: 'https://github.com/acme/shop' } },
        env: { SOURCE_DATE_EPOCH: EPOCH },
        inputs: {
          image: `${sink.host}/acme/cart`,
          'registry-username': 'ci-bot',
          'registry-password': password,
          'dry-run': 'true',
          flavor: 'suffix=-slim,onlatest=true',
          labels: 'team=shop'
        }
      })
      expect(run.main.code, run.main.stdout).toBe(0)
      const image = `${sink.host}/acme/cart`
      expect(JSON.parse(run.main.outputs.tags!)).toEqual(
        ['3.1.0-slim', '3.1-slim', 'v3.1.0-slim', 'sha-860c190-slim'].map(t => `${image}:${t}`)
      )
      expect(run.main.outputs.version).toBe('3.1.0-slim')
      expect(run.main.outputs.labels!.split('\n')).toEqual([
        'org.opencontainers.image.created=2020-01-10T00:30:00.000Z',
        'org.opencontainers.image.description=',
        'org.opencontainers.image.licenses=',
        'org.opencontainers.image.revision=860c1904a1ce19322e91ac35af1ab07466440c37',
        'org.opencontainers.image.source=https://github.com/acme/shop',
        'org.opencontainers.image.title=cart',
        'org.opencontainers.image.url=https://github.com/acme/shop',
        'org.opencontainers.image.version=3.1.0-slim',
        'team=shop'
      ])
      expect(run.main.outputs['result-file']).toBe('')
      expect(run.main.outputs.digest).toBe('')
      expect(sink.connections()).toBe(0)
      expect(Object.keys(run.leftoverFiles()).filter(p => p.includes('registry-auth'))).toEqual([])
      expect(findLeaks(run.channels(), [{ value: password, user: 'ci-bot' }])).toEqual([])
    } finally {
      await sink.close()
    }
  })
})

describe('{{commit_date}} outside a push', () => {
  it("comes from the checked-out commit's committer date (the payload has none)", async () => {
    const ws = mkdtempSync(join(tmpdir(), 'conveyor-tags-ws-'))
    try {
      const env = {
        ...process.env,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@e',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@e',
        GIT_COMMITTER_DATE: '2021-03-04T05:06:07Z'
      }
      execFileSync('git', ['init', '-q', ws], { env })
      execFileSync('git', ['-C', ws, 'commit', '-q', '--allow-empty', '-m', 'x'], { env })
      const sha = execFileSync('git', ['-C', ws, 'rev-parse', 'HEAD'], { env }).toString().trim()
      const run = await runAction('build', {
        workspace: ws,
        eventName: 'pull_request',
        ref: 'refs/pull/7/merge',
        sha,
        event: { number: 7, pull_request: { base: { ref: 'main' } } },
        env: { SOURCE_DATE_EPOCH: EPOCH },
        inputs: {
          image: 'acme/cart',
          'dry-run': 'true',
          tags: "type=raw,value=src-{{commit_date 'YYYYMMDD-HHmmss'}}\ntype=raw,value={{date 'YYYYMMDD'}}"
        }
      })
      expect(run.main.code, run.main.stdout).toBe(0)
      expect(JSON.parse(run.main.outputs.tags!)).toEqual([
        'acme/cart:src-20210304-050607',
        'acme/cart:20200110'
      ])
    } finally {
      rmSync(ws, { recursive: true, force: true })
    }
  })
})

describe('where the build action is stricter than metadata-action', () => {
  const notLabels = fixture.cases.filter(c => labelLines(c).length < (c.inputs.labels ?? []).length)

  it('a label line without "=" (metadata-action drops it with a warning) is refused, naming the input', async () => {
    expect(notLabels.map(c => c.id)).toEqual([
      'json/json01',
      'json/json07',
      'bakeFile/bakeFile01',
      'bakeFileTagsLabels/bakeFileTagsLabels01'
    ])
    const c = notLabels[0]!
    const run = await runAction('build', {
      post: false,
      inputs: { image: imageOf(c), 'dry-run': 'true', labels: c.inputs.labels!.join('\n') }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /input "labels": got "(invalid|foo)", expected lines of the form key=value/
    )
  })
})

describe("Conveyor's defaults (empty tags) through the build bundle", () => {
  it('every row without a tags input is listed, with a reason wherever the tags differ', () => {
    expect(Object.keys(CONVEYOR_DEFAULTS).sort()).toEqual(withoutTags.map(c => c.id).sort())
    const differing = withoutTags.filter(c => CONVEYOR_DEFAULTS[c.id]!.reasons.length > 0)
    expect(differing.map(c => c.id)).toHaveLength(15)
  })

  it.each(withoutTags.map(c => [c.id, c] as const))('%s', (id, c) => {
    const run = runs.get(id)!
    expect(run.main.code, run.main.stdout + run.main.stderr).toBe(0)
    const image = imageOf(c)
    expect(refsOf(run)).toEqual(CONVEYOR_DEFAULTS[id]!.tags.map(t => `${image}:${t}`))
  })
})
