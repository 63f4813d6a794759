/*
 * reel-editor: the editor stage of a reel session.  It attaches to a running
 * session, takes the work items of its role and applies them in place with
 * the ops of this folder (see core/stage/stage-main.c for the life of it).
 */
#include "edit/ops-impl.h"
#include "reel/ops.h"
#include "stage/stage-main.h"

int main(int argc, char **argv)
{
	return reel__stage_main(argc, argv, REEL_ROLE_EDITOR, "reel-editor", reel_op_impl);
}
