import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../support/harness.js'

// The README's first quick-start command: the whole pipeline on examples/monorepo.
describe('npm run demo', () => {
  it(
    'runs plan → build → deploy → argocd-sync over the scripted commits',
    { timeout: 600_000 },
    () => {
      const run = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/demo.ts'],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 580_000
        }
      )
      const out = run.stdout + run.stderr
      expect(run.status, out).toBe(0)
      const row = (title: string): string[] => {
        const line = out.split('\n').find(l => l.startsWith(title))
        expect(line, `summary row "${title}"\n${out}`).toBeDefined()
        return line!
          .slice(title.length)
          .trim()
          .split(/\s{2,}/)
      }
      // planned, built, reused, config commit, argocd, seconds
      expect(row('first push of main').slice(0, 2)).toEqual([
        'frontend, cart, checkout, payments',
        'frontend, cart, checkout, payments'
      ])
      expect(row('change one service (cart)').slice(0, 3)).toEqual(['cart', 'cart', '—'])
      const revert = row('revert it (same content as before)')
      expect(revert.slice(0, 3)).toEqual(['cart', '—', 'cart'])
      expect(revert[4]).toBe('succeeded')
      expect(row('move a file across services')[0]).toBe('cart, checkout')
      expect(row('change nothing that builds (docs)').slice(0, 3)).toEqual(['—', '—', '—'])
      // checkout is an Argo Rollouts canary: it paused once and the action promoted it.
      expect(out).toMatch(/argocd-sync: shop-checkout: Rollout checkout promoted at step 2 of 2/)
      expect(out).toMatch(/tearing down/)
    }
  )
})
