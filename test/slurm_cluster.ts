// A real one-node Slurm cluster for the tests, on this machine: munged, slurmctld and slurmd from
// Debian's slurm-wlm and munge, started as root from a generated slurm.conf with its state, spool,
// logs and munge socket in a temporary folder, on free ports. stop() shuts it down.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Why a cluster cannot start here, or null when it can. */
export function slurmMissing(): string | null {
  for (const b of ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel'])
    if (spawnSync('sh', ['-c', `command -v ${b} || test -x /usr/sbin/${b}`]).status !== 0)
      return `${b} is not installed (Debian: apt-get install slurm-wlm munge)`;
  if (process.getuid?.() !== 0) return 'starting slurmd needs root';
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export interface Cluster {
  env: Record<string, string>; // SLURM_CONF for the commands
  dir: string;
  stop(): void;
}

export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rlo-slurm-'));
  for (const d of ['state', 'spool', 'log', 'munge']) mkdirSync(path.join(dir, d));
  const key = path.join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024));
  chmodSync(key, 0o400);
  const socket = path.join(dir, 'munge', 'munge.socket');
  const sbin = (b: string) => (existsSync(`/usr/sbin/${b}`) ? `/usr/sbin/${b}` : b);
  execFileSync(sbin('munged'), [
    `--key-file=${key}`,
    `--socket=${socket}`,
    `--pid-file=${path.join(dir, 'munge', 'munged.pid')}`,
    `--log-file=${path.join(dir, 'munge', 'munged.log')}`,
    `--seed-file=${path.join(dir, 'munge', 'seed')}`,
    '--force',
  ]);
  const host = os.hostname().split('.')[0];
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=rlotest',
      `SlurmctldHost=${host}`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'AuthType=auth/munge',
      `AuthInfo=socket=${socket}`,
      'CredType=cred/munge',
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${path.join(dir, 'state')}`,
      `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
      `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${path.join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${path.join(dir, 'log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'ReturnToService=2',
      'MpiDefault=none',
      'JobCompType=jobcomp/none',
      'AccountingStorageType=accounting_storage/none',
      'KillWait=30',
      `NodeName=${host} CPUs=${os.availableParallelism()} RealMemory=${Math.floor(os.totalmem() / 2 ** 21)} State=UNKNOWN`,
      `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const opts = { env: { ...process.env, ...env } };
  execFileSync(sbin('slurmctld'), ['-c'], opts);
  execFileSync(sbin('slurmd'), [], opts);
  // Ready when the node is idle.
  for (let i = 0; i < 100; i++) {
    const s = spawnSync('sinfo', ['-h', '-o', '%t'], { encoding: 'utf8', ...opts });
    if (s.stdout?.trim() === 'idle') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    env,
    dir,
    stop: () => {
      spawnSync('scontrol', ['shutdown'], opts);
      spawnSync('pkill', ['-f', `munged --key-file=${key}`]);
    },
  };
}
