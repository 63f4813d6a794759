/*
 * Fault 11: another local user against a live session.  A child process
 * drops to `nobody` (setgid/setuid, so it needs root: exit 77 otherwise)
 * and is given everything it could learn (queue names as /dev/mqueue lists
 * them, the session file's and buffer's paths); it tries to open, send to,
 * read, unlink, squat and plant the session's queues, session file and
 * buffer.  Then a second coordinator is started under the live session's
 * name.
 *
 * Held: every attempt refused by the kernel (modes 0600/0700, owner checks),
 * the squatted names do not block a new session (its names hold a nonce no
 * one can predict), and the second coordinator refuses with one clear line
 * and a non-zero exit, the first one untouched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-util.h"
#include "bus/bus.h"
#include "bus/msg.h"
#include "bus/session.h"
#include "fault.h"
#include "reel/client.h"
#include "reel/error.h"
#include "testutil.h"

#define SESSION "users"
#define SQUAT_SESSION "users2"
#define NOBODY 65534
#define SQUATS 16

struct target {
	char queues[REEL_ROLE_CLIENT][REEL_QUEUE_NAME_MAX];
	char session_file[4200];
	char run_dir[4096];
	char buffer[4096];
	char buffer_dir[4096];
};

static unsigned tries, held;

/* One attempt: held when it failed. */
static void attempt(int out, const char *what, int result)
{
	dprintf(out, "%s %s\n", result < 0 ? "refused" : "GOT-THROUGH", what);
}

/* In the child, as nobody: everything an attacker could try with what it knows. */
static int as_nobody(const struct target *t, int out)
{
	char path[4200], name[REEL_QUEUE_NAME_MAX];
	struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = REEL_MSG_SIZE };
	struct reel_msg m;
	int fd;
	mqd_t q;

	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		return 2;
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		q = mq_open(t->queues[role], O_WRONLY);
		attempt(out, "open a role queue to send", q == (mqd_t)-1 ? -1 : 0);
		if (q != (mqd_t)-1) {
			reel_msg_init(&m, REEL_MSG_STOP);
			mq_send(q, (const char *)&m, sizeof(m), 31);
			mq_close(q);
		}
		q = mq_open(t->queues[role], O_RDONLY);
		attempt(out, "open a role queue to read", q == (mqd_t)-1 ? -1 : 0);
		if (q != (mqd_t)-1)
			mq_close(q);
		attempt(out, "unlink a role queue", mq_unlink(t->queues[role]));
	}
	fd = open(t->session_file, O_RDONLY);
	attempt(out, "read the session file", fd);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/%s.session", t->run_dir, SQUAT_SESSION);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	attempt(out, "plant a session file", fd);
	if (fd >= 0)
		close(fd);
	attempt(out, "remove the session file", unlink(t->session_file));
	fd = open(t->buffer, O_RDWR);
	attempt(out, "open the buffer to write", fd);
	if (fd >= 0)
		close(fd);
	fd = open(t->buffer, O_RDONLY);
	attempt(out, "open the buffer to read", fd);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/%s.reel", t->buffer_dir, SQUAT_SESSION);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
	attempt(out, "plant a buffer", fd);
	if (fd >= 0)
		close(fd);
	/*
	 * Squats on the names a new session would take: the old predictable
	 * ones, and guesses of the new ones.  Creating them succeeds (the queue
	 * file system is world-writable); what matters is that the session
	 * opens all the same, which the parent checks.
	 */
	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		snprintf(name, sizeof(name), "/reel.0.%s.%s", SQUAT_SESSION, reel_role_name(role));
		q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0666, &attr);
		if (q != (mqd_t)-1)
			mq_close(q);
	}
	for (unsigned i = 0; i < SQUATS; i++) {
		uint64_t nonce = 0;
		reel_random_u64(&nonce);
		snprintf(name, sizeof(name), "/reel.0.%s.%016llx.coord.%u", SQUAT_SESSION,
		         (unsigned long long)nonce, (unsigned)getppid() + 1 + i);
		q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0666, &attr);
		if (q != (mqd_t)-1)
			mq_close(q);
	}
	return 0;
}

static void fill_target(struct target *t, const struct reel_session_record *rec, const char *dir)
{
	char *slash;

	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++)
		reel_queue_name_of(t->queues[role], sizeof(t->queues[role]), rec, role);
	snprintf(t->run_dir, sizeof(t->run_dir), "%s/run", dir);
	snprintf(t->session_file, sizeof(t->session_file), "%s/%s.session", t->run_dir, SESSION);
	snprintf(t->buffer, sizeof(t->buffer), "%s", rec->buffer_path);
	snprintf(t->buffer_dir, sizeof(t->buffer_dir), "%s", rec->buffer_path);
	slash = strrchr(t->buffer_dir, '/');
	if (slash)
		*slash = 0;
}

/* The child's lines: count them, print the ones that got through. */
static void tally(const char *text)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		tries++;
		if (!strncmp(p, "refused ", 8))
			held++;
		else
			printf("# %.*s\n", (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : NULL;
	}
}

static void unlink_squats(void)
{
	char name[REEL_QUEUE_NAME_MAX + 300], prefix[64];
	struct dirent *de;
	DIR *d = opendir("/dev/mqueue");
	int n = snprintf(prefix, sizeof(prefix), "reel.0.%s.", SQUAT_SESSION);

	for (unsigned role = 0; role < REEL_ROLE_CLIENT; role++) {
		snprintf(name, sizeof(name), "/reel.0.%s.%s", SQUAT_SESSION, reel_role_name(role));
		mq_unlink(name);
	}
	/* The guesses, when the names can be listed (the sweep leaves another user's alone). */
	while (d && (de = readdir(d))) {
		struct stat st;
		snprintf(name, sizeof(name), "/dev/mqueue/%s", de->d_name);
		if (!strncmp(de->d_name, prefix, (size_t)n) && stat(name, &st) == 0 && st.st_uid == NOBODY) {
			snprintf(name, sizeof(name), "/%s", de->d_name);
			mq_unlink(name);
		}
	}
	if (d)
		closedir(d);
}

int main(void)
{
	/* tu_clip() answers in a static buffer: keep copies. */
	char *clip = tu_clip("noaudio.mp4") ? strdup(tu_clip("noaudio.mp4")) : NULL;
	char *other = tu_clip("odd-97x55.mp4") ? strdup(tu_clip("odd-97x55.mp4")) : NULL;
	struct reel_client *c = NULL, *c2 = NULL;
	struct target t;
	struct reel_status st;
	char *dir, log[4096], text[8192], note[256], *out = NULL, *err = NULL;
	pid_t coord, coord2, child;
	int pipefd[2], status, code;
	size_t len = 0;
	ssize_t n;

	if (geteuid() != 0) {
		printf("SKIP: needs root to run a child as nobody (setuid)\n");
		return 77;
	}
	if (!clip || !other) {
		printf("SKIP: no test clips (REEL_TEST_CLIPS)\n");
		return 77;
	}
	bu_mqueue_listable();
	dir = tu_private_env();
	/*
	 * Folders nobody can enter would refuse everything by themselves: open the
	 * test folder and the buffer folder (buffers may live in a shared place,
	 * such as /dev/shm), so that the files' own modes and the runtime
	 * folder's 0700 are what is tested.
	 */
	chmod(dir, 0755);
	{
		char buffers[4200];
		snprintf(buffers, sizeof(buffers), "%s/buffers", dir);
		(void)buffers;
	}
	snprintf(log, sizeof(log), "%s/open.log", dir);
	if (bu_open(clip, SESSION, false, log, 20000, &coord, &c) < 0) {
		fprintf(stderr, "reel open did not come up (see %s)\n", log);
		return 1;
	}
	fill_target(&t, reel_client_record(c), dir);

	if (pipe(pipefd) < 0)
		return 1;
	fflush(NULL);
	child = fork();
	if (child == 0) {
		close(pipefd[0]);
		_exit(as_nobody(&t, pipefd[1]));
	}
	close(pipefd[1]);
	while (len + 1 < sizeof(text) && (n = read(pipefd[0], text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	text[len] = 0;
	close(pipefd[0]);
	status = tu_wait(child, 10000);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the child could not become nobody\n");
		return 1;
	}
	tally(text);

	/* What the modes say, whatever the folders: private files and queues. */
	{
		struct stat sb;
		tries += 3;
		held += stat(t.buffer, &sb) == 0 && !(sb.st_mode & 077);
		held += stat(t.session_file, &sb) == 0 && !(sb.st_mode & 077);
		held += stat(t.run_dir, &sb) == 0 && (sb.st_mode & 0777) == 0700;
	}
	/* The session is untouched: it answers, and its file and queues are there. */
	tries++;
	held += reel_client_status(c, 5000, &st) == 0 && access(t.session_file, F_OK) == 0;

	/* The squatted names do not block a new session. */
	tries++;
	if (bu_open(other, SQUAT_SESSION, false, log, 20000, &coord2, &c2) == 0) {
		held++;
		reel_client_stop(c2, 10000);
		reel_client_close(c2);
		tu_wait(coord2, 15000);
	} else {
		printf("# a session could not open next to the squatted names\n");
	}
	unlink_squats();

	/* Two coordinators, one name: the second refuses, in one line. */
	tries++;
	code = tu_run((char *[]){ (char *)bu_reel(), "open", other, "--session", SESSION,
	                          "--no-stages", "--no-preview", NULL }, &out, &err);
	if (code == 2 && err && strstr(err, "is taken by a live session") &&
	    strchr(err, '\n') == err + strlen(err) - 1 &&
	    reel_client_status(c, 5000, &st) == 0)
		held++;
	else
	printf("# second coordinator on '%s': exit %d: %s", SESSION, code, err ? err : "\n");
	free(out);
	free(err);

	reel_client_stop(c, 10000);
	reel_client_close(c);
	tu_wait(coord, 15000);
	tu_rmrf(dir);
	free(dir);
	free(clip);
	free(other);
	snprintf(note, sizeof(note), "nobody refused on every queue, file and buffer; squatted names "
	         "did not block a session; a second coordinator of a live name refused");
	return fault_report("another user; two coordinators, one name", tries, held, tries - held, note);
}
