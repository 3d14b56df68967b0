import { endProcess } from '../../core/run.js'
import { run } from './main.js'

// Once the step is done, the process ends (nothing pending may hold it open).
void run().then(endProcess)
