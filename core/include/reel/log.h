/*
 * Logging through one callback.  The library itself only logs what a caller
 * cannot see through a return value (a dropped malformed message, a stage
 * that died); programs set the callback and the level once at start.
 */
#ifndef REEL_LOG_H
#define REEL_LOG_H

enum reel_log_level { REEL_LOG_ERROR = 0, REEL_LOG_WARN, REEL_LOG_INFO, REEL_LOG_DEBUG };

typedef void (*reel_log_fn)(int level, const char *component, const char *message, void *userdata);

/* The default prints "reel: component: message" to stderr. */
void reel_log_set_callback(reel_log_fn fn, void *userdata);
void reel_log_set_level(int level);
int reel_log_get_level(void);

__attribute__((format(printf, 3, 4)))
void reel_log(int level, const char *component, const char *fmt, ...);

#endif
