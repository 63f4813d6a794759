/*
 * The fault suite's common report.  Every fault test ends with one row of
 * the table docs/RELIABILITY.md shows: what was done to reel, how many times,
 * how many times reel held (did what the issue asks), and how much was lost
 * (acknowledged edits, frames, files).  The row goes to stdout and is
 * appended to $REEL_FAULT_RESULTS, which tools/run prints after the suite.
 */
#ifndef REEL_FAULT_H
#define REEL_FAULT_H

/*
 * Print and record the row; returns the test's exit code: 0 when every try
 * held and nothing was lost, 1 otherwise.  note may be NULL: a few words on
 * what "held" meant.
 */
int fault_report(const char *fault, unsigned tries, unsigned held, unsigned lost, const char *note);

#endif
