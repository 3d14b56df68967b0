/**
 * The simulator's Rollout health and actions held against Argo CD's own test tables
 * (test/fixtures/argocd/rollout, copied from argoproj/argo-cd): every manifest of
 * health_test.yaml gets the health Argo CD's health.lua gives it, every manifest of
 * action_test.yaml the actions (and disabled flags) discovery.lua lists, and every
 * action the manifest action.lua returns (spec.restartAt left out, as Argo CD's own
 * test normalizes it).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  rolloutActions,
  rolloutHealth,
  runRolloutAction,
  tonumber,
  type RolloutObj
} from '../../support/argocd-sim-rollout-lua.js'

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'argocd', 'rollout')
const yaml = (path: string): RolloutObj =>
  parse(readFileSync(join(DIR, path), 'utf8')) as RolloutObj

interface HealthTest {
  healthStatus: { status: string; message?: string }
  inputPath: string
}
interface ActionTests {
  discoveryTests: { inputPath: string; result: { name: string; disabled: boolean }[] }[]
  actionTests: { action: string; inputPath: string; expectedOutputPath: string }[]
}

/** The object without null fields (Kubernetes reads `field: null` as no field). */
function dropNulls(v: RolloutObj): RolloutObj {
  return JSON.parse(
    JSON.stringify(v, (_k, x: unknown) => (x === null ? undefined : x))
  ) as RolloutObj
}

const health = (yaml('health_test.yaml') as { tests: HealthTest[] }).tests
const actions = yaml('actions/action_test.yaml') as ActionTests

describe("simulator Rollout health = Argo CD's health.lua (health_test.yaml)", () => {
  it('covers every case of the table', () => expect(health.length).toBeGreaterThanOrEqual(24))
  it.each(health.map(t => [t.inputPath, t.healthStatus] as const))('%s', (path, want) => {
    const got = rolloutHealth(yaml(path))
    expect({ status: got.status, message: got.message ?? '' }).toEqual({
      status: want.status,
      message: want.message ?? ''
    })
  })
})

describe("simulator Rollout actions = Argo CD's discovery.lua and action.lua (action_test.yaml)", () => {
  it.each(actions.discoveryTests.map(t => [t.inputPath, t.result] as const))(
    'lists %s',
    (path, want) => {
      const got = rolloutActions(yaml(`actions/${path}`))
      const norm = (list: { name: string; disabled?: boolean }[]): string[] =>
        list.map(a => `${a.name}:${a.disabled === true}`).sort()
      expect(norm(got)).toEqual(norm(want))
      // Go's omitempty: an enabled action carries no "disabled" field at all.
      for (const a of got) if (!a.disabled) expect(a).not.toHaveProperty('disabled')
      expect(got.find(a => a.name === 'restart')!.displayName).toBe('Restart Pods')
    }
  )

  it.each(actions.actionTests.map(t => [t.action, t.inputPath, t.expectedOutputPath] as const))(
    '%s on %s',
    (action, input, output) => {
      const got = runRolloutAction(yaml(`actions/${input}`), action, new Date())
      const want = yaml(`actions/${output}`)
      if (action === 'restart')
        expect(got.spec.restartAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      delete got.spec.restartAt
      delete want.spec.restartAt
      // A YAML `abort:` (null) is an absent field to Kubernetes and to Argo CD's diff.
      expect(dropNulls(got)).toEqual(dropNulls(want))
    }
  )

  it("reads numbers as Lua's tonumber does", () => {
    expect([
      tonumber('5'),
      tonumber(5),
      tonumber('6df79499bc'),
      tonumber(''),
      tonumber(undefined)
    ]).toEqual([5, 5, undefined, undefined, undefined])
  })
})
