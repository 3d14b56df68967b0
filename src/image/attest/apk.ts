/**
 * apk's installed database (`lib/apk/db/installed`, Alpine and Wolfi): stanzas of
 * one-letter fields `X:value` separated by blank lines (format: the Alpine wiki's
 * "Apk spec"). P name, V version, A arch, L license, o origin, m maintainer,
 * U url, T description; F/R/Z/a/M lines describe files and are not needed here.
 */
import type { OsPackage } from './packages.js'

/** The packages of an apk installed database. */
export function parseApkInstalled(text: string, database: string, warnings: string[]): OsPackage[] {
  const out: OsPackage[] = []
  let fields: Record<string, string> = {}
  let lineNo = 0
  let start = 1
  const flush = (): void => {
    if (Object.keys(fields).length === 0) return
    if (!fields.P || !fields.V) {
      warnings.push(
        `${database}: the entry at line ${start} has no ${fields.P ? 'V: (version)' : 'P: (name)'} and was skipped`
      )
    } else {
      const pkg: OsPackage = { manager: 'apk', name: fields.P, version: fields.V, database }
      if (fields.A) pkg.arch = fields.A
      if (fields.L) pkg.license = fields.L
      if (fields.o) pkg.source = fields.o
      if (fields.m) pkg.supplier = fields.m
      if (fields.U) pkg.homepage = fields.U
      if (fields.T) pkg.summary = fields.T
      out.push(pkg)
    }
    fields = {}
  }
  for (const line of text.split(/\r?\n/)) {
    lineNo++
    if (line.trim() === '') {
      flush()
      start = lineNo + 1
      continue
    }
    const m = /^([A-Za-z]):(.*)$/.exec(line)
    // Only the first of a repeated key counts (F/R repeat; package fields do not).
    if (m && fields[m[1]!] === undefined) fields[m[1]!] = m[2]!
  }
  flush()
  if (out.length === 0 && text.trim() !== '') {
    warnings.push(
      `${database}: no package entry could be read; its packages are missing from the SBOM`
    )
  }
  return out
}
