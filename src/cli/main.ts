/**
 * The `jointspace` command. Each subcommand returns its exit status; nothing
 * here calls process.exit, so buffered output is always flushed.
 */
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../errors.js';
import { configurationHelp } from './config-table.js';
import { runEval } from './eval.js';
import { runGrade } from './grade.js';
import { runServe } from './serve.js';

export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = new Command('jointspace')
    .description('Knee osteoarthritis grading from radiographs (decision support, not a diagnosis)')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('grade')
    .description('grade knee radiographs (PNG, JPEG or DICOM)')
    .argument('<file...>', 'image files')
    .option('--json', 'print one JSON object instead of a table')
    .option('--heatmap <dir>', 'write a PNG with the heat map blended in, per graded file')
    .action(async (files: string[], options: { json?: boolean; heatmap?: string }) => {
      status = await runGrade(files, options);
    });

  program
    .command('eval')
    .description('measure agreement with reference grades in <dir>/0 .. <dir>/4')
    .argument('<dir>', 'folder with one subfolder per KL grade')
    .option('--json', 'print exactly one JSON object with the metrics')
    .action(async (dir: string, options: { json?: boolean }) => {
      status = await runEval(dir, options);
    });

  program
    .command('serve')
    .description(
      'run the PACS node: intake from Orthanc, grading worker, HTTP API (configured by JOINTSPACE_* variables; see README)',
    )
    .addHelpText('after', configurationHelp())
    .action(async () => {
      status = await runServe();
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    process.stderr.write(`jointspace: ${errorMessage(error)}\n`);
    return 1;
  }
  return status;
}
