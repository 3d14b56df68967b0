#!/usr/bin/env node
// Bundles every action (actions/<name>/action.yml) with ncc into dist/<name>/.
// Usage: node scripts/build.mjs [name ...]   (no names: all actions)
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
const all = readdirSync(join(root, 'actions')).filter(n =>
  existsSync(join(root, 'actions', n, 'action.yml'))
)
const wanted = process.argv.slice(2)
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`build: unknown action "${name}"; known: ${all.join(', ')}`)
    process.exit(2)
  }
}
const names = wanted.length > 0 ? wanted : all

function bundle(entry, outDir) {
  rmSync(outDir, { recursive: true, force: true })
  execFileSync(
    process.execPath,
    [ncc, 'build', entry, '-o', outDir, '--license', 'licenses.txt', '--target', 'es2022', '-q'],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } }
  )
  // ncc writes a package.json marking the bundle as ESM; normalise its formatting.
  const pkg = join(outDir, 'package.json')
  if (existsSync(pkg))
    writeFileSync(pkg, JSON.stringify(JSON.parse(readFileSync(pkg, 'utf8'))) + '\n')
}

for (const name of names) {
  const src = join(root, 'src', 'actions', name)
  const out = join(root, 'dist', name)
  bundle(join(src, 'index.ts'), out)
  if (existsSync(join(src, 'post.ts'))) bundle(join(src, 'post.ts'), join(out, 'post'))
  console.log(`build: dist/${name} ok`)
}
