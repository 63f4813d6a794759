/*
 * reel_strerror(): one static message per project error code, and
 * strerror() for the errno values that the library passes through.
 */
#include <string.h>

#include "reel/error.h"

static const char *const messages[] = {
	[REEL_E_BADMAGIC - REEL_E_FIRST] = "not a reel buffer file (bad magic)",
	[REEL_E_VERSION - REEL_E_FIRST] = "buffer file of another format version",
	[REEL_E_BYTEORDER - REEL_E_FIRST] = "buffer file written with another byte order",
	[REEL_E_TRUNCATED - REEL_E_FIRST] = "buffer file shorter than its header says (truncated)",
	[REEL_E_SECTION - REEL_E_FIRST] = "buffer section outside the file or overlapping another",
	[REEL_E_GEOMETRY - REEL_E_FIRST] = "invalid geometry (size 0, above 16384, or unknown format)",
	[REEL_E_SLOTCOUNT - REEL_E_FIRST] = "invalid slot count (0 or more than the frames)",
	[REEL_E_SLOTSTRIDE - REEL_E_FIRST] = "slot stride too small for one frame",
	[REEL_E_HEADER - REEL_E_FIRST] = "buffer header field out of range",
	[REEL_E_JOURNALFULL - REEL_E_FIRST] = "journal full",
	[REEL_E_JOURNAL - REEL_E_FIRST] = "damaged journal entry",
	[REEL_E_INDEX - REEL_E_FIRST] = "damaged frame index entry",
	[REEL_E_RANGE - REEL_E_FIRST] = "frame, slot or sequence number out of range",
	[REEL_E_BADMSG - REEL_E_FIRST] = "malformed message",
	[REEL_E_BADMEDIA - REEL_E_FIRST] = "not a video file libav can read",
	[REEL_E_DECODE - REEL_E_FIRST] = "frame could not be decoded",
	[REEL_E_NOTREGULAR - REEL_E_FIRST] = "not a regular file",
	[REEL_E_SOURCE - REEL_E_FIRST] = "buffer file was made from another source",
	[REEL_E_SESSION - REEL_E_FIRST] = "invalid session name (use 1-64 of A-Z a-z 0-9 _ -)",
	[REEL_E_LIVE - REEL_E_FIRST] = "a live session of that name exists",
	[REEL_E_NOSESSION - REEL_E_FIRST] = "no live session of that name",
	[REEL_E_TOOLARGE - REEL_E_FIRST] = "video exceeds reel's limits",
	[REEL_E_SLOT - REEL_E_FIRST] = "damaged slot table entry",
	[REEL_E_SESSIONFILE - REEL_E_FIRST] = "damaged session file (remove it from the runtime folder)",
	[REEL_E_BUFFERBUSY - REEL_E_FIRST] = "buffer file in use by another running coordinator",
	[REEL_E_INCOMPLETE - REEL_E_FIRST] = "buffer file's frame index was never completed",
	[REEL_E_FOREIGNQUEUE - REEL_E_FIRST] = "queue not made by this user's reel (owner, mode or message size)",
	[REEL_E_PARAM - REEL_E_FIRST] = "edit parameter does not fit the op or the video",
	[REEL_E_NOUNDO - REEL_E_FIRST] = "nothing to undo or redo",
	[REEL_E_EDIT - REEL_E_FIRST] = "an edit could not be applied",
	[REEL_E_CACHESIZE - REEL_E_FIRST] = "the buffer's size was fixed when it was made",
	[REEL_E_BUFFERPERM - REEL_E_FIRST] = "buffer file not private (it must be yours, a regular file, not a link, mode 0600)",
	[REEL_E_BUFFERDIR - REEL_E_FIRST] = "buffer folder not safe (it must be yours and writable by nobody else)",
	[REEL_E_RUNDIR - REEL_E_FIRST] = "runtime folder not private (it must be yours, a real folder, mode 0700)",
	[REEL_E_BUFFERLOST - REEL_E_FIRST] = "buffer file was truncated under the session",
	[REEL_E_SOURCELOST - REEL_E_FIRST] = "source file shrank under the session",
	[REEL_E_COORDGONE - REEL_E_FIRST] = "the session's coordinator is gone",
	[REEL_E_NOTYET - REEL_E_FIRST] = "the frame index does not reach that frame yet",
	[REEL_E_PICTURES - REEL_E_FIRST] = "the session's pictures file in RAM is missing or not the session's own",
};

_Static_assert(sizeof(messages) / sizeof(messages[0]) == REEL_E_LAST - REEL_E_FIRST,
               "every error code needs a message");

const char *reel_strerror(int code)
{
	if (code >= REEL_E_FIRST && code < REEL_E_LAST)
		return messages[code - REEL_E_FIRST];
	if (code < 0 && code > -4096)
		return strerror(-code);
	return code == 0 ? "success" : "unknown error";
}
