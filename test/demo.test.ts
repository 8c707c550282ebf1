/**
 * `npm run demo` (scripts/demo.ts) as a user runs it: once with `--exit-after-summary`, once
 * stopped with Ctrl-C (SIGINT to its whole process group, as a terminal sends it) after the
 * summary. Every demo study must be in the summary with a KL grade, a matched patient must get
 * a recommendation, and afterwards no process the demo started (Orthanc, PostgreSQL,
 * `jointspace serve`) may be left, nor its temporary folders. The demo's processes are found
 * by watching its process tree in /proc while it runs.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers/paths.js';

const DEMO = join(repoRoot, 'scripts', 'demo.ts');
const RUN_LIMIT_MS = 15 * 60_000;

interface Seen {
  pid: number;
  startTime: string;
  name: string;
}

/** pid → [parent pid, start time, command name] of every process, from /proc. */
function processTable(): Map<number, [number, string, string]> {
  const table = new Map<number, [number, string, string]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(entry), [Number(fields[1]), fields[19] ?? '', name]);
    } catch {
      // gone in the meantime
    }
  }
  return table;
}

/** Records every descendant of `root` while it runs; `stop()` ends the watch. */
function watchTree(root: number) {
  const seen = new Map<string, Seen>();
  const look = () => {
    const table = processTable();
    const tree = new Set([root]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, [parent]] of table) {
        if (!tree.has(pid) && tree.has(parent)) {
          tree.add(pid);
          grew = true;
        }
      }
    }
    for (const pid of tree) {
      const info = table.get(pid);
      if (pid === root || info === undefined) continue;
      seen.set(`${pid}:${info[1]}`, { pid, startTime: info[1], name: info[2] });
    }
  };
  const timer = setInterval(look, 200);
  return {
    seen,
    stop: () => {
      look();
      clearInterval(timer);
    },
  };
}

function stillAlive(processes: Iterable<Seen>): Seen[] {
  const table = processTable();
  return [...processes].filter((p) => table.get(p.pid)?.[1] === p.startTime);
}

interface DemoRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  tree: ReturnType<typeof watchTree>;
}

function startDemo(args: string[]): DemoRun {
  const child = spawn(process.execPath, ['--import', 'tsx', DEMO, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that SIGINT can go to the whole group as from a terminal.
    detached: true,
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const pid = child.pid;
  if (pid === undefined) throw new Error('the demo did not start');
  const tree = watchTree(pid);
  const limit = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  void exited.then(() => {
    clearTimeout(limit);
    tree.stop();
  });
  return { child, output: () => text, exited, tree };
}

interface SummaryRow {
  number: number;
  patient: string;
  knee: string;
  kl: string;
  recommendation: string;
  progression: string;
}

function summaryRows(output: string): SummaryRow[] {
  const after = output.split('\nSummary')[1] ?? '';
  return after
    .split('\n')
    .filter((line) => /^\| \d+ /.test(line))
    .map((line) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
      return {
        number: Number(cells[0]),
        patient: cells[1] ?? '',
        knee: cells[3] ?? '',
        kl: cells[4] ?? '',
        recommendation: cells[6] ?? '',
        progression: cells[7] ?? '',
      };
    });
}

/** The temporary folders the demo announced ("data in …"). */
function folders(output: string): string[] {
  return [...output.matchAll(/\(data in (\/\S+)\)/g)].map((match) => match[1] ?? '');
}

async function gone(processes: Iterable<Seen>): Promise<Seen[]> {
  const deadline = Date.now() + 10_000;
  let left = stillAlive(processes);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    left = stillAlive(processes);
  }
  return left;
}

test.serial('the demo grades every study, proposes care, and leaves nothing behind', async (t) => {
  t.timeout(RUN_LIMIT_MS + 60_000);
  const run = startDemo(['--exit-after-summary']);
  const code = await run.exited;
  const output = run.output();
  t.log(output.slice(-6000));
  t.is(code, 0);

  const count = Number(/Sending (\d+) studies/.exec(output)?.[1]);
  t.true(count >= 3, `studies sent: ${count}`);
  const rows = summaryRows(output);
  t.deepEqual(
    [...new Set(rows.map((row) => row.number))],
    Array.from({ length: count }, (_, i) => i + 1),
  );
  for (const row of rows) t.regex(row.kl, /^[0-4]$/, `study ${row.number} ${row.knee}`);
  // Both knees of the bilateral study, and a recommendation for a patient FHIR knows.
  t.true(rows.some((row) => row.knee === 'right') && rows.some((row) => row.knee === 'left'));
  t.true(rows.some((row) => /^R\d+ /.test(row.recommendation) && /JS-DEMO-/.test(row.patient)));
  // The follow-up study three years after the first: its progression.
  t.true(rows.some((row) => /since \d{4}-\d{2}-\d{2}/.test(row.progression)));
  for (const url of ['/console/', '/fhir/R4/', '/api/openapi.json']) {
    t.true(output.includes(url), url);
  }

  const names = new Set([...run.tree.seen.values()].map((p) => p.name));
  for (const name of ['Orthanc', 'postgres']) t.true(names.has(name), `saw ${name}`);
  t.deepEqual(await gone(run.tree.seen.values()), []);
  const temporary = folders(output);
  t.is(temporary.length, 2);
  for (const folder of temporary) t.false(existsSync(folder), folder);
});

test.serial('Ctrl-C after the summary stops everything and removes the folders', async (t) => {
  t.timeout(RUN_LIMIT_MS + 60_000);
  const run = startDemo([]);
  const deadline = Date.now() + RUN_LIMIT_MS;
  while (!run.output().includes('Press Ctrl-C') && run.child.exitCode === null) {
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  t.true(run.output().includes('Press Ctrl-C'), run.output().slice(-4000));
  const pid = run.child.pid ?? 0;
  process.kill(-pid, 'SIGINT');
  const code = await run.exited;
  t.log(run.output().slice(-1500));
  t.is(code, 130);
  t.regex(run.output(), /Stopped; temporary folders removed/);
  t.deepEqual(await gone(run.tree.seen.values()), []);
  for (const folder of folders(run.output())) t.false(existsSync(folder), folder);
});
