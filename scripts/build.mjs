#!/usr/bin/env node
// Bundles every action (actions/<name>/action.yml) with ncc into dist/<name>/.
// Usage: node scripts/build.mjs [name ...]   (no names: all actions)
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, renameSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
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

function bundle(entry, next) {
  // Build beside the target and swap it in, so a failed build never leaves dist/ without it.
  rmSync(next, { recursive: true, force: true })
  try {
    execFileSync(
      process.execPath,
      [ncc, 'build', entry, '-o', next, '--license', 'licenses.txt', '--target', 'es2022', '-q'],
      { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } }
    )
  } catch {
    rmSync(next, { recursive: true, force: true })
    console.error(`build: bundling ${entry} failed; dist/ left as it was`)
    process.exit(1)
  }
  // ncc writes a package.json marking the bundle as ESM; normalise its formatting.
  const pkg = join(next, 'package.json')
  if (existsSync(pkg))
    writeFileSync(pkg, JSON.stringify(JSON.parse(readFileSync(pkg, 'utf8'))) + '\n')
  return next
}

for (const name of names) {
  const src = join(root, 'src', 'actions', name)
  const out = join(root, 'dist', name)
  const main = bundle(join(src, 'index.ts'), join(root, 'dist', `.${name}.next`))
  const post = existsSync(join(src, 'post.ts'))
    ? bundle(join(src, 'post.ts'), join(root, 'dist', `.${name}.post.next`))
    : undefined
  rmSync(out, { recursive: true, force: true })
  renameSync(main, out)
  if (post) renameSync(post, join(out, 'post'))
  console.log(`build: dist/${name} ok`)
}
