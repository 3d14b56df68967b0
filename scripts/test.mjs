#!/usr/bin/env node
// npm test: installs what the tests need, runs every test (unit and end to end)
// with Vitest, and ends with the line "N passed, N failed".
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const setup = spawnSync('bash', [join(root, 'scripts', 'setup-test-env.sh')], { stdio: 'inherit' })
if (setup.status !== 0) {
  console.log('0 passed, 1 failed')
  process.exit(1)
}
const tmp = join(root, '.tmp')
mkdirSync(tmp, { recursive: true })
const report = join(tmp, 'vitest-report.json')
rmSync(report, { force: true })
const args = process.argv.slice(2)
const run = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...args
  ],
  { stdio: 'inherit', cwd: root }
)
let passed = 0
let failed = 0
let skipped = 0
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'))
  passed = r.numPassedTests ?? 0
  failed = r.numFailedTests ?? 0
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
  // A suite that failed to load has no failed test of its own: count it.
  for (const suite of r.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed++
  }
} else {
  failed = 1
}
if (run.status !== 0 && failed === 0) failed = 1
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1)
