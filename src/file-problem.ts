/**
 * Why a file could not be read or written, in words a person acts on ("no such file",
 * "permission denied") rather than the system's code (ENOENT, EACCES): one wording for every
 * file sunoye reads, the password file, config.json, TLS files and room files alike.
 */

/** The system's error codes for files, in words. */
const WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many files open',
  ENFILE: 'too many files open',
  ENOSPC: 'no space left on the disk',
  EDQUOT: 'over the disk quota',
  EROFS: 'the file system is read-only',
  EIO: 'input/output error',
  EBUSY: 'the file is busy',
  EFBIG: 'the file is too large',
};

/** The reason a file operation failed, in words (`no such file`), for a one-line message. */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && WORDS[code] !== undefined) return WORDS[code];
  if (code !== undefined) return code;
  return err instanceof Error ? err.message : String(err);
}
