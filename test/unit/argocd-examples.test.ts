import { describe, expect, it } from 'vitest'
import { exampleApplications, simAppsFromExamples } from '../support/argocd-examples.js'

describe('examples/argocd', () => {
  it('holds one Application per example service, matched by "shop-*" and the part-of label', () => {
    const apps = exampleApplications()
    expect(apps.map(a => a.metadata.name)).toEqual([
      'shop-cart',
      'shop-checkout',
      'shop-frontend',
      'shop-payments'
    ])
    for (const a of apps) {
      expect(a.apiVersion).toBe('argoproj.io/v1alpha1')
      expect(a.kind).toBe('Application')
      expect(a.spec.project).toBe('shop')
      expect(a.metadata.labels?.['app.kubernetes.io/part-of']).toBe('shop')
      expect(a.spec.source.path).toBe(`apps/${a.metadata.labels?.['conveyor.dev/service']}`)
      expect(a.metadata.name).toBe(`shop-${a.metadata.labels?.['conveyor.dev/service']}`)
    }
  })

  it('become simulator apps with labels, project and scenarios', () => {
    const sims = simAppsFromExamples({ 'shop-cart': 'degraded' })
    expect(sims.find(s => s.name === 'shop-cart')).toMatchObject({
      project: 'shop',
      namespace: 'argocd',
      scenario: 'degraded'
    })
    expect(sims.filter(s => s.scenario === undefined)).toHaveLength(3)
  })
})
