import { WriteGuard } from './write-guard.js';

/** A WriteGuard whose answer a test sets (the real one asks access(2); the disk fault tests use a real read-only folder). */
export class SwitchedGuard extends WriteGuard {
  unwritable = false;
  checks = 0;
  override problem(): string | null {
    this.checks++;
    return this.unwritable ? 'the data folder cannot be written (EPERM); the database is paused until it can' : null;
  }
}
