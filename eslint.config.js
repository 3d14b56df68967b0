import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import prettier from 'eslint-config-prettier'

// The layer rule (docs/architecture.md): each folder of src/ names the sibling folders it
// must not import. actions/* may import anything below; a domain folder (plan, image,
// deploy/gitops, deploy/ssh, argocd) imports only itself, model/ and core/; model/ only
// core/; core/ nothing of ours above it. A relative specifier that climbs out of a folder
// (`../`, `../../`, ...) into a forbidden one is refused.
const LAYERS = {
  'src/core': ['model', 'plan', 'image', 'deploy', 'argocd', 'actions'],
  'src/model': ['plan', 'image', 'deploy', 'argocd', 'actions'],
  'src/plan': ['image', 'deploy', 'argocd', 'actions'],
  'src/image': ['plan', 'deploy', 'argocd', 'actions'],
  'src/deploy/gitops': ['plan', 'image', 'argocd', 'actions', 'ssh'],
  'src/deploy/ssh': ['plan', 'image', 'argocd', 'actions', 'gitops'],
  'src/argocd': ['plan', 'image', 'deploy', 'actions']
}
// Only these files talk to the runner through @actions/core; only core/github.ts builds
// the GitHub client.
const TOOLKIT_IMPORTERS = {
  '@actions/core': ['src/core/run.ts', 'src/core/logger.ts'],
  '@actions/github': ['src/core/github.ts']
}

function restrictedImports(folder) {
  const paths = Object.entries(TOOLKIT_IMPORTERS).map(([name, allowed]) => ({
    name,
    message: `only ${allowed.join(' and ')} import ${name} (docs/architecture.md)`
  }))
  const forbidden = LAYERS[folder] ?? []
  const patterns = forbidden.length
    ? [
        {
          regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`,
          message: `${folder}/ must not import ${forbidden.join(', ')} (the layer rule, docs/architecture.md)`
        }
      ]
    : []
  return ['error', { paths, patterns }]
}

const layerBlocks = [
  { files: ['src/**/*.ts'], rules: { 'no-restricted-imports': restrictedImports('src') } },
  ...Object.keys(LAYERS).map(folder => ({
    files: [`${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': restrictedImports(folder) }
  })),
  // The files allowed a toolkit import keep their folder's layer rule, minus that one name.
  ...Object.values(TOOLKIT_IMPORTERS)
    .flat()
    .map(file => {
      const folder = Object.keys(LAYERS).find(f => file.startsWith(`${f}/`)) ?? 'src'
      const [, options] = restrictedImports(folder)
      const own = Object.entries(TOOLKIT_IMPORTERS)
        .filter(([, allowed]) => allowed.includes(file))
        .map(([name]) => name)
      return {
        files: [file],
        rules: {
          'no-restricted-imports': [
            'error',
            { ...options, paths: options.paths.filter(p => !own.includes(p.name)) }
          ]
        }
      }
    })
]

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'examples/**',
      'bench/**',
      'coverage/**',
      '.tmp/**',
      'test/fixtures/**/*.json'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }
      ],
      'no-console': 'error'
    }
  },
  ...layerBlocks,
  {
    files: ['test/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs', 'bin/**/*.mjs'],
    rules: { 'no-console': 'off' }
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly'
      }
    }
  },
  prettier
)
