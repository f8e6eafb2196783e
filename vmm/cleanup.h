/* The socket files n90vmm creates (--socket, --serial unix:) are removed when it exits: on
 * every exit it controls, and after SIGKILL or a crash too. Threads under the seccomp sandbox
 * cannot unlink (it takes a path), so a small helper process, forked before the jail and
 * before any thread, waits for the end of a pipe only n90vmm holds, then removes each path
 * that is still the very file n90vmm created (same device and inode: a socket a later run
 * made there stays). Where the calling thread is not confined, the files go at once instead.
 * docs/reliability.md. */
#ifndef N90_CLEANUP_H
#define N90_CLEANUP_H

#define CLEANUP_MAX_PATHS 4
/* A normal exit waits this long for the helper, so the files are gone when n90vmm is. */
#define CLEANUP_WAIT_MS 1000

/* Records a file just created (its device and inode, read now). */
void cleanup_add(const char *path);
/* Forks the helper when there is something to remove. 0 or -errno (the files then stay
 * behind after a confined exit, as a stale socket the next run replaces). */
int cleanup_start(void);
/* Removes the recorded files now: directly when this thread may, else by ending the
 * helper's wait and waiting up to CLEANUP_WAIT_MS for it. */
void cleanup_run(void);

#endif
