/*
 * The main() of reel's own stage programs (reel-editor, reel-effects,
 * reel-audio): arguments, logging, attach, serve, detach.  Each part's
 * main.c only says which role it plays and where its ops come from.
 */
#ifndef REEL_STAGE_MAIN_H
#define REEL_STAGE_MAIN_H

#include "reel/stage.h"

/* Exit code: 0 after SIGTERM/SIGINT or when the session ends, 2 for bad usage, 1 on failure. */
int reel__stage_main(int argc, char **argv, unsigned role, const char *program,
                     reel_op_lookup_fn lookup);

#endif
