/* Error reporting: a thread-local last-error message, like dlerror().
 * Deep code records why it failed and returns -1; only main() prints and exits,
 * so no library function ever terminates the process. */
#ifndef VMLITE_ERROR_H
#define VMLITE_ERROR_H

/* Records a formatted message (one line, should name the fix); returns -1. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefixes the current message with more context; returns -1. */
int err_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_msg(void);
void err_clear(void);

#endif
