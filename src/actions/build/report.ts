/**
 * What the build action reports of an outcome: the result file (for deploy) when the
 * image was pushed, the step outputs (the tags, version and labels, also of a dry run),
 * and the step summary.
 */
import { join } from 'node:path'
import type { Logger } from '../../core/logger.js'
import { runnerTemp, setOutput } from '../../core/outputs.js'
import { code, Summary } from '../../core/summary.js'
import type { Outcome } from '../../image/job.js'
import { writeBuildResult } from '../../model/build-result.js'

/** A size for people: bytes, KiB or MiB. */
function humanBytes(n: number | undefined): string {
  if (n === undefined) return 'unknown'
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** The summary's word for how the image came to be. */
function verdict(o: Outcome): string {
  if (o.kind === 'reused') return 'reused (no build)'
  if (o.kind === 'merged') return 'merged'
  if (o.kind === 'dry-run') return 'dry run (nothing built or pushed)'
  return o.pushed ? 'built and pushed' : 'built (not pushed)'
}

/** The labels, folded under a details element (a blank line when there are none). */
function labelsBlock(o: Outcome): string {
  const lines = [...(o.labels ?? [])].map(([k, v]) => `${k}=${v}`)
  if (lines.length === 0) return '\n'
  const body = new Summary().codeBlock(lines.join('\n')).toString()
  return new Summary().details(`Labels (${lines.length})`, body).toString()
}

/** The summary rows of the attestations (none when there are none). */
function attestationRows(o: Outcome): string[][] {
  const a = o.attestations
  if (!a) return []
  const how = `${a.how === 'found' ? 'kept from the promoted digest' : 'pushed'}, ${a.signed === 'none' ? 'unsigned' : `signed (${a.signed})`}`
  return [
    ['Provenance', a.provenance ? `${code(a.provenance)} (${how})` : 'none'],
    ['SBOM', a.sbom ? `${code(a.sbom)} (${how})` : 'none']
  ]
}

/**
 * Write the result file (into `resultsDir`, by default `<RUNNER_TEMP>/conveyor/results`)
 * when the outcome has one, set every output and write the step summary. `started` is
 * when the job began (Date.now()), for the duration shown.
 */
export function report(
  o: Outcome,
  options: { resultsDir?: string; started: number },
  log: Logger
): void {
  let resultFile = ''
  if (o.result) {
    resultFile = writeBuildResult(options.resultsDir ?? join(runnerTemp(), 'results'), o.result)
    log.info(`result file: ${resultFile}`)
  }
  setOutput('image', o.image)
  setOutput('digest', o.digest)
  setOutput('tags', o.tags)
  setOutput('version', o.version)
  setOutput('labels', [...(o.labels ?? [])].map(([k, v]) => `${k}=${v}`).join('\n'))
  setOutput('reused', o.kind === 'reused')
  setOutput('backend', o.backend ?? (o.kind === 'reused' ? 'none' : ''))
  setOutput('context-hash', o.contextHash ?? '')
  setOutput('result-file', resultFile)
  setOutput('provenance', o.attestations?.provenance ?? '')
  setOutput('sbom', o.attestations?.sbom ?? '')
  const seconds = ((Date.now() - options.started) / 1000).toFixed(1)
  new Summary()
    .heading(`build: ${o.service}`)
    .table(
      ['', ''],
      [
        ['Image', o.image],
        ['Result', verdict(o)],
        ['Why', o.why],
        ['Digest', o.digest],
        ['Tags', o.tags.join('\n')],
        ['Version', o.version],
        ['Size', humanBytes(o.size)],
        ['Duration', `${seconds} s`],
        ['Backend', o.backend ?? (o.kind === 'reused' ? 'none (registry API only)' : '')],
        ['Cache', o.cache ?? ''],
        ['Platforms', o.platforms.join(', ')],
        [
          'Context hash',
          o.contextHash ? `${o.contextHash.slice(0, 16)}… (${o.files ?? 0} files)` : ''
        ],
        ...attestationRows(o)
      ]
    )
    .paragraph(resultFile ? `Result file: ${code(resultFile)}` : '')
    .raw(labelsBlock(o))
    .write()
}
