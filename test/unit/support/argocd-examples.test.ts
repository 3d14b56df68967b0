/**
 * examples/argocd: one single-source Application per example service, and one
 * multi-source Application (Helm chart + values from the config repository), all in
 * project "shop"; and the same as simulator apps.
 */
import { describe, expect, it } from 'vitest'
import { exampleApplications, simAppsFromExamples } from '../../support/argocd-examples.js'

describe('examples/argocd', () => {
  it('holds one Application per example service, matched by "shop-*" and the part-of label', () => {
    const apps = exampleApplications()
    expect(apps.map(a => a.metadata.name)).toEqual([
      'shop-cart',
      'shop-checkout',
      'shop-frontend',
      'shop-payments',
      'shop-web'
    ])
    for (const a of apps) {
      expect(a.apiVersion).toBe('argoproj.io/v1alpha1')
      expect(a.kind).toBe('Application')
      expect(a.spec.project).toBe('shop')
      expect(a.metadata.labels?.['app.kubernetes.io/part-of']).toBe('shop')
    }
    for (const a of apps.filter(x => x.spec.source)) {
      expect(a.spec.source!.path).toBe(`apps/${a.metadata.labels?.['conveyor.dev/service']}`)
      expect(a.metadata.name).toBe(`shop-${a.metadata.labels?.['conveyor.dev/service']}`)
    }
  })

  it('has a multi-source app: a chart, and its values from the config repository', () => {
    const web = exampleApplications().find(a => a.metadata.name === 'shop-web')!
    expect(web.spec.source).toBeUndefined()
    const [chart, values] = web.spec.sources!
    expect(chart).toMatchObject({ chart: 'shop-web', targetRevision: '1.2.3' })
    expect(chart!.helm?.valueFiles).toEqual(['$values/helm/values-prod.yaml'])
    expect(values).toMatchObject({
      repoURL: 'https://github.com/acme/shop-config.git',
      targetRevision: 'main',
      ref: 'values'
    })
  })

  it('become simulator apps with labels, project, sources and scenarios', () => {
    const sims = simAppsFromExamples({ 'shop-cart': 'degraded' })
    expect(sims.find(s => s.name === 'shop-cart')).toMatchObject({
      project: 'shop',
      namespace: 'argocd',
      scenario: 'degraded',
      source: { repoURL: 'https://github.com/acme/shop-config.git', path: 'apps/cart' }
    })
    expect(sims.find(s => s.name === 'shop-web')!.sources).toHaveLength(2)
    expect(sims.filter(s => s.scenario === undefined)).toHaveLength(4)
    // checkout's manifest in examples/config-repo/base is an Argo Rollouts canary.
    expect(sims.find(s => s.name === 'shop-checkout')!.rollout).toEqual({
      name: 'checkout',
      replicas: 4,
      canary: { steps: [{ setWeight: 25 }, { pause: {} }] }
    })
    expect(sims.filter(s => s.rollout)).toHaveLength(1)
  })
})
