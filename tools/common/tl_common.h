/* Helpers shared by the tools (chatserver, masterserver, testclient): stop
 * signals (platform file tl_signal_*.c) and "encode a proto message and send
 * it" over netcore. */
#ifndef TL_COMMON_H
#define TL_COMMON_H

#include "netcore.h"
#include "proto_packets.h"

/* Blocks SIGINT/SIGTERM in the calling thread (call before creating any
 * thread, so every thread inherits the mask) and ignores SIGPIPE. */
void tl_signals_block(void);
/* First thing in main: the console output policy (Windows: stdout and
 * stderr buffered and flushed whole, so lines from threads and processes
 * sharing a console never interleave mid-line; UTF-8 output).  POSIX: no-op. */
void tl_console_init(void);
/* Waits for SIGINT/SIGTERM; returns the signal number. */
int tl_signals_wait(void);
/* Like tl_signals_wait but gives up after timeout_ms: returns 0 then. */
int tl_signals_wait_ms(int timeout_ms);

/* Encodes m (by m->type) and sends it; 0 or a negative NC_E / PROTO_E code. */
int tl_send_msg(nc_session_t *s, const proto_msg_t *m);
int tl_send_msg_id(nc_engine_t *e, nc_sid_t sid, const proto_msg_t *m);
/* Encodes m into a fresh packet (caller releases); NULL on error. */
nc_packet_t *tl_packet(const proto_msg_t *m);

struct timespec;
/* Absolute TIME_UTC deadline timeout_ms from now, for timed condition waits. */
void tl_deadline(struct timespec *ts, int timeout_ms);

/* Reads one line (without its newline or a trailing CR) into buf.  Returns
 * its length, or -1 at end of input or when it does not fit in cap - 1
 * bytes (the rest of the line is consumed). */
#include <stdio.h>
int tl_read_line(FILE *f, char *buf, size_t cap);
/* A secret (password) line from stdin: on a terminal, prompts on stderr
 * and turns echo off meanwhile (platform file tl_tty_*.c).  As tl_read_line. */
int tl_read_secret(const char *prompt, char *buf, size_t cap);

#endif
