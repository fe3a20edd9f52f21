import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real, small file system for disk faults: an ext4 image loop-mounted in a temp folder, so
 * that a full disk is a real ENOSPC and a read-only file a real EPERM (ext4 honours the
 * immutable attribute on open files; tmpfs does not). Needs root (mount, chattr), as test/run.sh
 * runs; mkfs.ext4, mount and chattr come with Debian's e2fsprogs and mount.
 */
export interface SmallDisk {
  /** where it is mounted */
  dir: string;
  /** fills the free space with a file until the disk answers ENOSPC; returns the bytes written */
  fill(): Promise<number>;
  /** deletes the filler: the space returns */
  free(): Promise<void>;
  /** chattr (-R) +i / -i on a folder in the disk: every write to it and its files fails with EPERM, even on open files */
  immutable(path: string, on: boolean): void;
  unmount(): void;
}

export function mountSmallDisk(sizeMb: number): SmallDisk {
  if (process.getuid?.() !== 0) throw new Error('disk fault tests need root (mount, chattr): run them through `npm test` as root');
  const work = mkdtempSync(join(tmpdir(), 'gp-small-disk-'));
  const image = join(work, 'disk.img');
  const dir = join(work, 'mnt');
  mkdirSync(dir);
  execFileSync('truncate', ['-s', `${sizeMb}M`, image]);
  // no blocks reserved for root: the test process is root and would fill those too
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
  execFileSync('mount', ['-o', 'loop', image, dir]);
  const filler = join(dir, 'filler');
  return {
    dir,
    async fill() {
      const fh = await open(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let written = 0;
      try {
        for (;;) written += (await fh.write(chunk)).bytesWritten;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await fh.close();
      }
      return written;
    },
    free: () => rm(filler, { force: true }),
    immutable(path, on) {
      execFileSync('chattr', ['-R', on ? '+i' : '-i', path]);
    },
    unmount() {
      try {
        execFileSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
      } catch {
        // nothing was made immutable
      }
      execFileSync('umount', ['-l', dir]);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
