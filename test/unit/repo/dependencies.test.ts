/**
 * package.json's runtime dependencies are what src/ imports: every one is imported by a
 * file of src/ (statically or with `import()`), and every package src/ imports is a
 * runtime dependency (not a devDependency, which the bundles would still carry but the
 * manifest would misstate). Test-only packages (ajv, the simulators' helpers) belong in
 * devDependencies. Types-only imports count: they name what the code is written against.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

/** Every .ts file under a directory. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter(e => e.isFile() && e.name.endsWith('.ts'))
    .map(e => join(e.parentPath, e.name))
}

/** The package a module specifier names (`@scope/name/sub` → `@scope/name`), or undefined. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:')) return undefined
  const parts = specifier.split('/')
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
  return builtinModules.includes(name) ? undefined : name
}

/** The bare module specifiers a source file imports, statically or dynamically. */
export function importsOf(text: string): string[] {
  const out: string[] = []
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?\bfrom\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g
  ]
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]!)
  return out
}

const imported = new Map<string, string>()
for (const file of sources(join(ROOT, 'src'))) {
  for (const spec of importsOf(readFileSync(file, 'utf8'))) {
    const name = packageOf(spec)
    if (name && !imported.has(name)) imported.set(name, file.slice(ROOT.length + 1))
  }
}

describe('runtime dependencies', () => {
  it('reads imports the way the sources write them', () => {
    expect(
      importsOf(
        [
          "import { a } from 'yaml'",
          "import type { B } from '@scope/pkg/sub'",
          "import './shim.js'",
          "export { c } from 'semver'",
          "  const { attest } = await import('@actions/attest')",
          "import {\n  x,\n  y\n} from 'undici'"
        ].join('\n')
      ).map(packageOf)
    ).toEqual(['yaml', '@scope/pkg', 'semver', 'undici', undefined, '@actions/attest'])
    expect(packageOf('node:fs')).toBeUndefined()
    expect(packageOf('fs')).toBeUndefined()
  })

  it.each(Object.keys(manifest.dependencies))('%s is imported by src/', name => {
    expect(imported.has(name), `no file of src/ imports ${name}`).toBe(true)
  })

  it('every package src/ imports is a runtime dependency', () => {
    const missing = [...imported].filter(([name]) => !(name in manifest.dependencies))
    expect(missing).toEqual([])
  })

  it('test-only packages are devDependencies', () => {
    expect(manifest.dependencies).not.toHaveProperty('ajv')
    expect(manifest.devDependencies).toHaveProperty('ajv')
    expect(manifest.dependencies).not.toHaveProperty('@actions/exec')
  })
})
