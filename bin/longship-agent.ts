import { parseArgs, runAgent, UsageError, USAGE } from '../server/assets/agent.ts'

const argv = process.argv.slice(2)
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(USAGE)
} else {
  // one line either way: cron mails whatever a job prints
  try {
    const line = await runAgent(parseArgs(argv))
    console.log(`longship-agent: ${line}`)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    console.error(`longship-agent: ${message}${err instanceof UsageError ? `\n${USAGE}` : ''}`)
    process.exitCode = err instanceof UsageError ? 2 : 1
  }
}
