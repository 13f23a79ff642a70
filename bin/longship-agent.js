#!/usr/bin/env node
// The package's `bin`: runs the TypeScript agent through tsx (a dependency already), in this process.
import { tsImport } from 'tsx/esm/api'

await tsImport('./longship-agent.ts', import.meta.url)
