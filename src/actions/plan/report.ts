/**
 * What the plan action reports: its outputs (the matrix and the values a workflow
 * branches on) and the step summary with the reason for every selection.
 */
import { setOutput } from '../../core/outputs.js'
import type { Plan } from '../../plan/run.js'
import { planSummary } from '../../plan/summary.js'

/** Set every output of a plan and write its step summary. */
export function report(plan: Plan): void {
  setOutput('matrix', plan.matrix)
  setOutput('services', plan.selection.selected)
  setOutput('count', plan.selection.selected.length)
  setOutput('has-changes', plan.hasChanges)
  setOutput('base', plan.base ?? '')
  setOutput('head', plan.head)
  setOutput('changed-files-path', plan.changedFilesPath)
  setOutput('deleted', plan.deleted)
  planSummary(plan).write()
}
