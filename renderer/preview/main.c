/*
 * reel-preview: the SDL2 window that shows a session's buffer live.
 */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "reel-preview: not written yet\n");
	return 1;
}
