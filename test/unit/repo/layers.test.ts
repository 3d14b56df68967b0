/**
 * The layer rule of docs/architecture.md, as `npm run lint` enforces it: a deliberately bad
 * file (test/fixtures/lint/cross-layer.ts.txt) is linted as if it stood in each folder of
 * src/, and every import the rule forbids there must be refused, by the repository's own
 * ESLint configuration. The real tree passing the rule is `npm run lint`'s job in CI.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const BAD = readFileSync(join(ROOT, 'test', 'fixtures', 'lint', 'cross-layer.ts.txt'), 'utf8')

// The file is not part of the TypeScript program: lint it without type information (the
// one type-aware rule is off), with the layer rule exactly as configured.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' }
  }
})

async function refused(path: string, text = BAD): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: join(ROOT, path) })
  return result.messages
    .filter(m => m.ruleId === 'no-restricted-imports')
    .map(m => /'([^']+)' import/.exec(m.message)?.[1] ?? m.message)
}

describe('the layer rule', () => {
  it('a domain folder imports neither another domain nor the runner toolkit', async () => {
    expect(await refused('src/image/bad.ts')).toEqual([
      '../plan/base.js',
      '../deploy/ssh/shim.js',
      '@actions/core'
    ])
    expect(await refused('src/argocd/bad.ts')).toEqual([
      '../plan/base.js',
      '../deploy/ssh/shim.js',
      '@actions/core'
    ])
  })

  it('model/ imports only core/', async () => {
    expect(await refused('src/model/bad.ts')).toEqual([
      '../plan/base.js',
      '../deploy/ssh/shim.js',
      '@actions/core'
    ])
  })

  it('core/ imports nothing of ours above it, and only run.ts and logger.ts take @actions/core', async () => {
    expect(await refused('src/core/bad.ts')).toEqual([
      '../plan/base.js',
      '../model/image-ref.js',
      '../deploy/ssh/shim.js',
      '@actions/core'
    ])
    const toolkitOnly = "import * as core from '@actions/core'\nexport const c = core\n"
    expect(await refused('src/core/run.ts', toolkitOnly)).toEqual([])
    expect(await refused('src/core/logger.ts', toolkitOnly)).toEqual([])
    expect(await refused('src/core/outputs.ts', toolkitOnly)).toEqual(['@actions/core'])
  })

  it('deploy/gitops and deploy/ssh stay apart, however deep the file', async () => {
    const flat = "import { s } from '../ssh/session.js'\nexport const u = s\n"
    const deep = "import { s } from '../../ssh/session.js'\nexport const u = s\n"
    expect(await refused('src/deploy/gitops/bad.ts', flat)).toEqual(['../ssh/session.js'])
    expect(await refused('src/deploy/gitops/kustomize/bad.ts', deep)).toEqual([
      '../../ssh/session.js'
    ])
    expect(
      await refused('src/deploy/ssh/bad.ts', flat.replace('ssh/session', 'gitops/edit'))
    ).toEqual(['../gitops/edit.js'])
    // the folder's own modules stay importable
    expect(
      await refused(
        'src/deploy/gitops/kustomize/ok.ts',
        "import { e } from '../edit.js'\nexport const u = e\n"
      )
    ).toEqual([])
  })

  it('an action entry may import every layer, but not the toolkit directly', async () => {
    const text = BAD.replaceAll("'../", "'../../")
    expect(await refused('src/actions/build/bad.ts', text)).toEqual(['@actions/core'])
  })
})
