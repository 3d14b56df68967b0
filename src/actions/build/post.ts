/**
 * The build action's post step: removes the registry auth directory (the 0600
 * config.json with the base64 `user:password`, and the CA) that the main step wrote
 * under RUNNER_TEMP, when the main step could not (it removes it itself when it ends).
 * That file is the only login state, so removing it logs out. Warns, never fails the job.
 */
import { removeAuthDir } from '../../image/auth-dir.js'
import { endProcess, runPost } from '../../core/run.js'
import { savedLogin } from './state.js'

void runPost('build', async log => {
  const { dir, registry } = savedLogin()
  if (!dir) {
    log.info('no registry login to clean up')
    return
  }
  if (removeAuthDir(dir)) log.info(`logged out of ${registry || 'the registry'}: removed ${dir}`)
  else log.info(`registry login for ${registry || 'the registry'} already removed by the main step`)
}).then(endProcess)
