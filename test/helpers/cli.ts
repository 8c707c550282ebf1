// Runs the jointspace command from the sources, exactly as bin/jointspace.js runs the build.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
