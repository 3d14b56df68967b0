#!/usr/bin/env node
// Generates each action's README usage, inputs and outputs from its action.yml, and
// the per-action section of the root README (only between its markers, when present).
//
// Usage: node scripts/docs.mjs [--check] [--root <dir>]
//   --check  write nothing; exit 1 and list the files that would change
//   --root   the repository root (default: this script's repository)
//
// Text outside the `<!-- start x -->` / `<!-- end x -->` markers is kept as written.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'

const OWNER = 'OWNER/conveyor'
const VERSION = 'v1'

/** One line of description: folded whitespace. */
function oneLine(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim()
}

/** Escape text for a Markdown table cell. */
function cell(text) {
  const s = oneLine(text)
  if (s === '') return ''
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;')
}

/** Wrap text to comment lines of at most `width` characters. */
function wrap(text, width) {
  const words = oneLine(text).split(' ').filter(Boolean)
  const lines = []
  let line = ''
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines
}

/** A YAML scalar for a usage example value. */
function yamlValue(value, indent) {
  const s = String(value)
  if (s.includes('\n')) {
    const body = s.replace(/\n$/, '').split('\n')
    return `|\n${body.map(l => (l === '' ? '' : `${indent}  ${l}`)).join('\n')}`
  }
  return `'${s.replace(/'/g, "''")}'`
}

function isRequired(input) {
  return input?.required === true && (input.default === undefined || input.default === '')
}

/** Parse one action.yml; throws naming the file. */
export function loadAction(file) {
  let doc
  try {
    doc = parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new Error(`${file}: not valid YAML (${error.message})`)
  }
  if (typeof doc !== 'object' || doc === null) throw new Error(`${file}: not a mapping`)
  return {
    name: oneLine(doc.name),
    description: oneLine(doc.description),
    inputs: doc.inputs ?? {},
    outputs: doc.outputs ?? {}
  }
}

/** The usage block of one action. */
export function usageBlock(dir, action) {
  const lines = ['```yaml', `- uses: ${OWNER}/actions/${dir}@${VERSION}`]
  const inputs = Object.entries(action.inputs)
  if (inputs.length > 0) lines.push('  with:')
  inputs.forEach(([name, input], i) => {
    if (i > 0) lines.push('')
    for (const l of wrap(input?.description, 92)) lines.push(`    # ${l}`)
    if (input?.deprecationMessage)
      lines.push(`    # Deprecated: ${oneLine(input.deprecationMessage)}`)
    if (isRequired(input)) lines.push('    # Required.')
    else if (input?.default !== undefined && input.default !== '') {
      const d = String(input.default)
      lines.push(`    # Default: ${d.includes('\n') ? '(see below)' : d}`)
    }
    const value = input?.default !== undefined ? input.default : ''
    lines.push(`    ${name}: ${yamlValue(value, '    ')}`)
  })
  lines.push('```')
  return `## Usage\n\n${lines.join('\n')}`
}

/** The inputs table of one action. */
export function inputsTable(action) {
  const rows = Object.entries(action.inputs).map(([name, input]) => {
    const d = input?.default
    const shown = d === undefined || d === '' ? '' : `\`${oneLine(d).replace(/`/g, "'")}\``
    return `| \`${name}\` | ${cell(input?.description)} | ${isRequired(input) ? 'yes' : 'no'} | ${shown} |`
  })
  if (rows.length === 0) return '## Inputs\n\nNone.'
  return [
    '## Inputs',
    '',
    '| Input | Description | Required | Default |',
    '| --- | --- | --- | --- |',
    ...rows
  ].join('\n')
}

/** The outputs table of one action. */
export function outputsTable(action) {
  const rows = Object.entries(action.outputs).map(
    ([name, output]) => `| \`${name}\` | ${cell(output?.description)} |`
  )
  if (rows.length === 0) return '## Outputs\n\nNone.'
  return ['## Outputs', '', '| Output | Description |', '| --- | --- |', ...rows].join('\n')
}

/**
 * Replace the text between `<!-- start key -->` and `<!-- end key -->`; when the markers
 * are missing, append the section (with markers) at the end.
 */
export function replaceSection(text, key, body, { append = true } = {}) {
  const start = `<!-- start ${key} -->`
  const end = `<!-- end ${key} -->`
  const a = text.indexOf(start)
  const b = a >= 0 ? text.indexOf(end, a + start.length) : -1
  if (a >= 0 && b >= 0) {
    return `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`
  }
  if (!append) return text
  const sep = text === '' ? '' : text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n'
  return `${text}${sep}${start}\n${body}\n${end}\n`
}

/** The README of one action, given its current text (or undefined). */
export function renderReadme(dir, action, current) {
  let text = current ?? `# ${action.name || dir}\n\n${action.description}\n\n`
  text = replaceSection(text, 'usage', usageBlock(dir, action))
  text = replaceSection(text, 'inputs', inputsTable(action))
  text = replaceSection(text, 'outputs', outputsTable(action))
  return text
}

/** The per-action section of the root README. */
export function actionsSection(actions) {
  const parts = []
  for (const [dir, action] of actions) {
    const required = Object.entries(action.inputs).filter(([, i]) => isRequired(i))
    const snippet = [`- uses: ${OWNER}/actions/${dir}@${VERSION}`]
    if (required.length > 0) {
      snippet.push('  with:')
      for (const [name] of required) snippet.push(`    ${name}: ''`)
    }
    const names = o =>
      Object.keys(o).length === 0
        ? 'none'
        : Object.keys(o)
            .map(n => `\`${n}\``)
            .join(', ')
    parts.push(
      [
        `### \`${dir}\`: ${action.name || dir}`,
        '',
        action.description,
        '',
        '```yaml',
        ...snippet,
        '```',
        '',
        `Inputs: ${names(action.inputs)}.`,
        `Outputs: ${names(action.outputs)}.`,
        `Reference: [actions/${dir}/README.md](actions/${dir}/README.md).`
      ].join('\n')
    )
  }
  return parts.join('\n\n')
}

/** Every file the docs produce: path → [current text or undefined, wanted text]. */
export function plan(root) {
  const files = new Map()
  const actionsDir = join(root, 'actions')
  const dirs = existsSync(actionsDir)
    ? readdirSync(actionsDir)
        .filter(d => existsSync(join(actionsDir, d, 'action.yml')))
        .sort()
    : []
  const actions = []
  for (const dir of dirs) {
    const action = loadAction(join(actionsDir, dir, 'action.yml'))
    actions.push([dir, action])
    const path = join(actionsDir, dir, 'README.md')
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined
    files.set(path, [current, renderReadme(dir, action, current)])
  }
  const rootReadme = join(root, 'README.md')
  if (existsSync(rootReadme)) {
    const current = readFileSync(rootReadme, 'utf8')
    if (current.includes('<!-- start actions -->') && current.includes('<!-- end actions -->')) {
      files.set(rootReadme, [
        current,
        replaceSection(current, 'actions', actionsSection(actions), { append: false })
      ])
    }
  }
  return files
}

function main(argv) {
  let check = false
  let root = resolve(import.meta.dirname, '..')
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check') check = true
    else if (argv[i] === '--root') root = resolve(argv[++i] ?? '.')
    else {
      console.error(
        `docs: unknown argument ${argv[i]}\nusage: node scripts/docs.mjs [--check] [--root <dir>]`
      )
      return 2
    }
  }
  const changed = []
  for (const [path, [current, wanted]] of plan(root)) {
    if (current === wanted) continue
    changed.push(path)
    if (!check) writeFileSync(path, wanted)
  }
  const rel = p => p.slice(root.length + 1)
  if (check) {
    if (changed.length > 0) {
      console.error(
        `docs: out of date (run "npm run docs"):\n${changed.map(p => `  ${rel(p)}`).join('\n')}`
      )
      return 1
    }
    console.log('docs: up to date')
    return 0
  }
  console.log(
    changed.length > 0 ? `docs: wrote ${changed.map(rel).join(', ')}` : 'docs: nothing to change'
  )
  return 0
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/docs.mjs')) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (error) {
    console.error(`docs: ${error.message}`)
    process.exitCode = 1
  }
}
