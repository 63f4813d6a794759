/*
 * Fault 12: start/stop cycles of `reel open --no-stages --no-preview` on a
 * tiny clip, one in ten ended by SIGKILL of the coordinator and of its
 * clients (a client killed mid-call, or before its first answer), the
 * others by `stop`.  Afterwards: no queue of the session left in
 * /dev/mqueue, no session or temporary file, no descriptor of ours, no
 * zombie, no process of the session.
 *
 * A cycle costs about 0.15-0.5 s here (the coordinator opens the video and
 * hashes it every time), so 1,000 cycles take 2.5 to 8 minutes: the run is
 * time-boxed (REEL_FAULT_SECONDS, 300 by default) and says how many it did
 * when the box ends it first; REEL_FAULT_SECONDS=0 never stops early.  Queues are counted between cycles too: what SIGKILL left
 * (the killed coordinator's role queues; a reply queue only when its client
 * died before its first answer) must be gone after the next start's sweep.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-util.h"
#include "fault.h"
#include "reel/client.h"
#include "reel/error.h"
#include "testutil.h"

#define SESSION "cycles"

/* A client process: calls status until the session goes or it is killed. */
static pid_t start_client(bool first_call)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct reel_client *c;
		struct reel_status st;

		if (reel_client_connect(SESSION, &c) < 0)
			_exit(0);
		if (!first_call)
			pause();   /* killed before its first answer: its reply queue is still named */
		for (int i = 0; i < 100000; i++)
			if (reel_client_status(c, 100, &st) < 0)
				break;
		reel_client_close(c);
		_exit(0);
	}
	return pid;
}

/* Files of the runtime folder other than its lock: session files, temporaries. */
static unsigned runtime_files(const char *dir)
{
	char path[4096];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/run", dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, ".lock");
	closedir(d);
	return n;
}

int main(void)
{
	const char *clip = tu_clip("noaudio.mp4");
	const char *env_cycles = getenv("REEL_FAULT_CYCLES"), *env_secs = getenv("REEL_FAULT_SECONDS");
	unsigned cycles = env_cycles ? (unsigned)atoi(env_cycles) : 1000;
	double seconds = env_secs ? atof(env_secs) : 300, t0 = tu_now_ms(), t_first = 0;
	unsigned done = 0, held = 0, kills = 0, killed_procs = 0, left_by_kills = 0, unswept = 0;
	unsigned fds0, left_queues, left_files, left_fds, zombies, procs;
	char *dir, log[4096], note[512];

	if (!clip) {
		printf("SKIP: no test clip (REEL_TEST_CLIPS)\n");
		return 77;
	}
	if (!bu_mqueue_listable()) {
		printf("SKIP: /dev/mqueue is not mounted and cannot be (not root): queues cannot be counted\n");
		return 77;
	}
	dir = tu_private_env();
	snprintf(log, sizeof(log), "%s/open.log", dir);
	/* Whatever a killed coordinator leaves running comes back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	srand((unsigned)getpid());
	fds0 = bu_fds();

	for (unsigned i = 0; i < cycles; i++) {
		bool kill_cycle = i % 10 == 9;
		struct reel_client *c = NULL;
		struct reel_status st;
		pid_t coord, client;
		double tc = tu_now_ms();
		int r;

		if (seconds > 0 && (tc - t0) / 1000 > seconds)
			break;
		left_by_kills += bu_queues_of(SESSION);
		if (bu_open(clip, SESSION, false, log, 20000, &coord, &c) < 0) {
			fprintf(stderr, "cycle %u: reel open did not come up (see %s)\n", i, log);
			done++;
			continue;
		}
		/* Its 5 role queues and our connection's reply queue: the start swept the rest. */
		unswept += bu_queues_of(SESSION) > 6;
		client = start_client(!kill_cycle || rand() % 2);
		r = reel_client_status(c, 5000, &st);
		if (kill_cycle) {
			/* The coordinator and both clients, in a random order, at a random moment. */
			usleep((useconds_t)(rand() % 3000));
			if (rand() % 2) {
				kill(client, SIGKILL);
				kill(coord, SIGKILL);
			} else {
				kill(coord, SIGKILL);
				kill(client, SIGKILL);
			}
			reel_client_close(c);   /* this process's client "dies" too: its queue goes with it */
			kills++;
			killed_procs += 3;
			held += tu_wait(coord, 10000) >= 0 && tu_wait(client, 10000) >= 0 && r == 0;
		} else {
			int stop = reel_client_stop(c, 10000);
			int sc, cc;
			reel_client_close(c);
			sc = tu_wait(coord, 15000);
			cc = tu_wait(client, 15000);
			held += r == 0 && stop == 0 && WIFEXITED(sc) && WEXITSTATUS(sc) == 0 && WIFEXITED(cc);
		}
		done++;
		if (i == 0)
			t_first = tu_now_ms() - tc;
		if (done % 50 == 0)
			printf("# %u cycles (%u with SIGKILL) in %.1f s\n", done, kills, (tu_now_ms() - t0) / 1000);
	}
	/* One clean cycle last: its start sweeps what the last kill left, its stop removes its own. */
	{
		struct reel_client *c;
		pid_t coord;
		if (bu_open(clip, SESSION, false, log, 20000, &coord, &c) == 0) {
			reel_client_stop(c, 10000);
			reel_client_close(c);
			tu_wait(coord, 15000);
		}
	}
	tu_reap_adopted(NULL, 0);
	left_queues = bu_queues_of(SESSION);
	left_files = runtime_files(dir);
	left_fds = bu_fds() > fds0 ? bu_fds() - fds0 : 0;
	zombies = bu_zombies();
	procs = (unsigned)tu_session_procs(SESSION, NULL, 0);
	printf("# %u cycles in %.1f s (first %.0f ms), %u ended by SIGKILL of %u processes; the "
	       "kills left %u queue names (role queues of the killed coordinators, reply queues of "
	       "clients killed before their first answer), every one swept by the next start (%u "
	       "starts found more than their own); left at the end: %u queues, %u runtime files, "
	       "%u fds, %u zombies, %u processes\n",
	       done, (tu_now_ms() - t0) / 1000, t_first, kills, killed_procs, left_by_kills, unswept,
	       left_queues, left_files, left_fds, zombies, procs);
	snprintf(note, sizeof(note), "%u start/stop cycles%s, %u ended by SIGKILL of coordinator and "
	         "clients; 0 queues, files, fds, zombies left", done,
	         done < cycles ? " (the time box ended the run first)" : "", kills);
	tu_rmrf(dir);
	free(dir);
	return fault_report("start/stop cycles with SIGKILL", done, held,
	                    left_queues + left_files + left_fds + zombies + procs + unswept, note);
}
