/*
 * The one logging path of the library.  Programs choose where lines go with
 * reel_log_set_callback(); libav's own messages are routed here too by the
 * media code, tagged with their component.
 */
#include <stdarg.h>
#include <stdio.h>

#include "reel/log.h"

static void log_stderr(int level, const char *component, const char *message, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "reel%s%s: %s%s\n", component ? " " : "", component ? component : "",
	        level == REEL_LOG_WARN ? "warning: " : "", message);
	(void)level;
}

static reel_log_fn log_fn = log_stderr;
static void *log_userdata;
static int log_level = REEL_LOG_WARN;

void reel_log_set_callback(reel_log_fn fn, void *userdata)
{
	log_fn = fn ? fn : log_stderr;
	log_userdata = userdata;
}

void reel_log_set_level(int level)
{
	log_level = level;
}

int reel_log_get_level(void)
{
	return log_level;
}

void reel_log(int level, const char *component, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(level, component, line, log_userdata);
}
