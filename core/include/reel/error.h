/*
 * Error codes of libreel.
 *
 * Every function of the library returns an int: 0 or a positive count on
 * success, a negative errno value or one of the project codes below on
 * failure.  The project codes live in a reserved negative range so that they
 * can never be mistaken for an errno value.  reel_strerror() names them all.
 */
#ifndef REEL_ERROR_H
#define REEL_ERROR_H

enum reel_error {
	REEL_E_FIRST = -10000,
	REEL_E_BADMAGIC = REEL_E_FIRST, /* not a reel buffer file */
	REEL_E_VERSION,        /* buffer written by another format version */
	REEL_E_BYTEORDER,      /* buffer written on a machine of other byte order */
	REEL_E_TRUNCATED,      /* file shorter than its header says */
	REEL_E_SECTION,        /* a section lies outside the file or overlaps another */
	REEL_E_GEOMETRY,       /* width/height 0, too large, or bad pixel/sample format */
	REEL_E_SLOTCOUNT,      /* slot count 0 or above the frame count */
	REEL_E_SLOTSTRIDE,     /* slot stride too small for one frame */
	REEL_E_HEADER,         /* another header field is out of range */
	REEL_E_JOURNALFULL,    /* the journal has no room for another entry */
	REEL_E_JOURNAL,        /* a journal entry is damaged */
	REEL_E_INDEX,          /* a frame index entry is damaged */
	REEL_E_RANGE,          /* frame, slot or sequence number out of range */
	REEL_E_BADMSG,         /* malformed message */
	REEL_E_BADMEDIA,       /* the source is not a video libav can read */
	REEL_E_DECODE,         /* a frame could not be decoded */
	REEL_E_NOTREGULAR,     /* the source path is not a regular file */
	REEL_E_SOURCE,         /* the buffer belongs to another source file */
	REEL_E_SESSION,        /* the session name is invalid */
	REEL_E_LIVE,           /* a live session of that name exists */
	REEL_E_NOSESSION,      /* no live session of that name */
	REEL_E_TOOLARGE,       /* the video exceeds reel's limits */
	REEL_E_SLOT,           /* a slot table entry is damaged */
	REEL_E_RUNDIR,         /* the runtime folder is not private to this user */
	REEL_E_SESSIONFILE,    /* a session file is damaged */
	REEL_E_BUFFERBUSY,     /* another coordinator holds the buffer file */
	REEL_E_INCOMPLETE,     /* the buffer's frame index was never completed */
	REEL_E_FOREIGNQUEUE,   /* a queue not made by this user's reel */
	REEL_E_PARAM,          /* an edit's parameter does not fit the op or the video */
	REEL_E_NOUNDO,         /* nothing to undo, or nothing to redo */
	REEL_E_EDIT,           /* an edit could not be applied (the log says why) */
	REEL_E_CACHESIZE,      /* a resumed buffer's size differs from the cache asked for */
	REEL_E_BUFFERPERM,     /* a buffer file not owned by this user, open to others, or a link */
	REEL_E_BUFFERDIR,      /* the buffer folder is not this user's or is writable by others */
	REEL_E_BUFFERLOST,     /* the buffer file was truncated under the session */
	REEL_E_SOURCELOST,     /* the source file shrank under the session */
	REEL_E_COORDGONE,      /* the session's coordinator is gone (it died or left) */
	REEL_E_NOTYET,         /* the frame index does not reach that frame yet (being built) */
	REEL_E_PICTURES,       /* the session's pictures file (in RAM) is missing or not its own */
	REEL_E_LAST
};

/* A static string for any code this library returns, errno values included. */
const char *reel_strerror(int code);

#endif
