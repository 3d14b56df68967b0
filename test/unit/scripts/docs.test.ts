/**
 * scripts/docs.mjs: the generated action READMEs match their action.yml (drift fails
 * here), and the generator keeps hand-written text, escapes tables and only touches
 * the root README between its markers.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const SCRIPT = join(ROOT, 'scripts', 'docs.mjs')
const temps: string[] = []
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true })
})

function docs(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', cwd: ROOT })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

const ACTION = `name: 'Conveyor demo'
description: >-
  Does a demo thing
  across two lines.
author: 'Conveyor'
inputs:
  token:
    description: 'A token | with a pipe'
    required: true
  mode:
    description: |
      How to run:
      fast or slow.
    required: false
    default: 'fast'
  script:
    description: 'A multi-line default.'
    default: |
      echo one
      echo two
  optional:
    description: "It's optional."
outputs:
  result:
    description: 'The <result>.'
runs:
  using: node24
  main: ../../dist/demo/index.js
`

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-docs-'))
  temps.push(dir)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

describe('docs of this repository', () => {
  it('every action README is up to date with its action.yml (npm run docs)', () => {
    const r = docs('--check')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('docs: up to date')
  })
})

describe('docs generator', () => {
  it('creates a README with title, description, usage, inputs and outputs', () => {
    const dir = repo({ 'actions/demo/action.yml': ACTION })
    expect(docs('--root', dir, '--check').code).toBe(1)
    const r = docs('--root', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('actions/demo/README.md')
    const text = readFileSync(join(dir, 'actions/demo/README.md'), 'utf8')
    expect(text.startsWith('# Conveyor demo\n\nDoes a demo thing across two lines.\n')).toBe(true)
    expect(text).toContain(
      '<!-- start usage -->\n## Usage\n\n```yaml\n- uses: OWNER/conveyor/actions/demo@v1\n  with:\n'
    )
    expect(text).toContain("    # A token | with a pipe\n    # Required.\n    token: ''\n")
    expect(text).toContain(
      "    # How to run: fast or slow.\n    # Default: fast\n    mode: 'fast'\n"
    )
    expect(text).toContain('    script: |\n      echo one\n      echo two\n')
    expect(text).toContain("    optional: ''\n```\n<!-- end usage -->")
    expect(text).toContain('| `token` | A token \\| with a pipe | yes |  |')
    expect(text).toContain('| `mode` | How to run: fast or slow. | no | `fast` |')
    expect(text).toContain('| `result` | The &lt;result>. |')
    for (const m of ['usage', 'inputs', 'outputs']) {
      expect(text).toContain(`<!-- start ${m} -->`)
      expect(text).toContain(`<!-- end ${m} -->`)
    }
    expect(docs('--root', dir, '--check').code).toBe(0)
  })

  it('the usage block is valid YAML that lists every input with its default', async () => {
    const dir = repo({ 'actions/demo/action.yml': ACTION })
    docs('--root', dir)
    const text = readFileSync(join(dir, 'actions/demo/README.md'), 'utf8')
    const block = /```yaml\n([\s\S]*?)```/.exec(text)![1]!
    const { parse } = await import('yaml')
    const [step] = parse(block) as [{ uses: string; with: Record<string, string> }]
    expect(step.uses).toBe('OWNER/conveyor/actions/demo@v1')
    expect(step.with).toEqual({
      token: '',
      mode: 'fast',
      script: 'echo one\necho two\n',
      optional: ''
    })
  })

  it('keeps hand-written text outside the markers and detects drift', () => {
    const dir = repo({ 'actions/demo/action.yml': ACTION })
    docs('--root', dir)
    const path = join(dir, 'actions/demo/README.md')
    const edited = readFileSync(path, 'utf8')
      .replace('# Conveyor demo\n', '# Conveyor demo\n\nHand-written intro.\n')
      .concat('\n## Notes\n\nHand-written notes.\n')
    writeFileSync(path, edited)
    expect(docs('--root', dir, '--check').code).toBe(0)
    writeFileSync(
      join(dir, 'actions/demo/action.yml'),
      ACTION.replace("default: 'fast'", "default: 'slow'")
    )
    const check = docs('--root', dir, '--check')
    expect(check.code).toBe(1)
    expect(check.stderr).toContain('actions/demo/README.md')
    expect(readFileSync(path, 'utf8')).toBe(edited)
    docs('--root', dir)
    const after = readFileSync(path, 'utf8')
    expect(after).toContain('Hand-written intro.')
    expect(after).toContain('## Notes\n\nHand-written notes.\n')
    expect(after).toContain("mode: 'slow'")
    expect(after).not.toContain("mode: 'fast'")
  })

  it('adds missing sections to an existing README without markers', () => {
    const dir = repo({
      'actions/demo/action.yml': ACTION,
      'actions/demo/README.md': '# Demo\n\nMy own words.\n'
    })
    docs('--root', dir)
    const text = readFileSync(join(dir, 'actions/demo/README.md'), 'utf8')
    expect(text.startsWith('# Demo\n\nMy own words.\n\n<!-- start usage -->')).toBe(true)
  })

  it('updates the root README only between its actions markers', () => {
    const root =
      '# Project\n\nProse.\n\n<!-- start actions -->\nold\n<!-- end actions -->\n\nMore prose.\n'
    const dir = repo({ 'actions/demo/action.yml': ACTION, 'README.md': root })
    docs('--root', dir)
    const text = readFileSync(join(dir, 'README.md'), 'utf8')
    expect(
      text.startsWith('# Project\n\nProse.\n\n<!-- start actions -->\n### `demo`: Conveyor demo')
    ).toBe(true)
    expect(text.endsWith('<!-- end actions -->\n\nMore prose.\n')).toBe(true)
    expect(text).not.toContain('\nold\n')
    expect(text).toContain("- uses: OWNER/conveyor/actions/demo@v1\n  with:\n    token: ''\n")
    expect(text).toContain('Outputs: `result`.')
  })

  it('leaves a root README without markers untouched, and creates none', () => {
    const dir = repo({ 'actions/demo/action.yml': ACTION, 'README.md': '# Mine\n' })
    docs('--root', dir)
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# Mine\n')
    const bare = repo({ 'actions/demo/action.yml': ACTION })
    docs('--root', bare)
    expect(() => readFileSync(join(bare, 'README.md'))).toThrow()
  })

  it('names the file of a broken action.yml and exits non-zero', () => {
    const dir = repo({ 'actions/bad/action.yml': 'name: [unclosed\n' })
    const r = docs('--root', dir, '--check')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('actions/bad/action.yml: not valid YAML')
  })
})
