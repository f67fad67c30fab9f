/* testclient scripts (issue 14): `send PACKET {json}`, `expect PACKET
 * {partial json} [timeout_ms]` and every interactive command, one per line
 * of a file.  tc_json.c is the engine (no protocol knowledge: it is unit
 * tested with fake operations); tc_script.c binds it to the generated JSON
 * codecs and the interactive client's connection. */
#ifndef TC_SCRIPT_H
#define TC_SCRIPT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "proto_packets.h"

/* Limits (tools/README.md, "Scripts"). */
#define TC_SCRIPT_LINE_MAX 4096        /* bytes per script line */
#define TC_SCRIPT_EXPECT_MS 5000       /* expect's default timeout */
#define TC_SCRIPT_EXPECT_MAX_MS 600000 /* the largest timeout a line may give */
#define TC_SCRIPT_LOG_MAX 4096         /* packets kept for expect (oldest dropped) */
#define TC_SCRIPT_NAME_MAX 63          /* a packet name, a variable name */
#define TC_SCRIPT_VARS_MAX 32          /* `expect ... as NAME` variables per script */

/* Exit codes of `testclient --script`. */
enum { TC_SCRIPT_OK = 0, TC_SCRIPT_FAILED = 1, TC_SCRIPT_USAGE = 2 };

/* Partial match: every key of `want` is in `got` with a matching value,
 * recursively; arrays match element by element and have the same length;
 * numbers compare by value (a number also matches a string holding the same
 * number, for u64 fields written as strings); NULL `want` matches anything.
 * 1 or 0. */
int tc_json_match(const cJSON *want, const cJSON *got);

/* Parses "PACKET [{json}] [timeout_ms]" (send: no timeout).  *json is NULL
 * when absent (caller cJSON_Delete), *timeout_ms TC_SCRIPT_EXPECT_MS when
 * absent.  0, or -1 with err set. */
int tc_json_parse_cmd(const char *text, int allow_timeout, char *name, size_t name_cap,
                      cJSON **json, int *timeout_ms, char *err, size_t errlen);

/* The packet log expect reads from: every s2c packet received, in order.
 * push takes ownership of j (any thread).  set_closed(1, why) when the
 * connection closed (expect then fails at once instead of timing out),
 * set_closed(0, NULL) on a new connection. */
void tc_plog_push(const char *name, cJSON *j);
void tc_plog_set_closed(int closed, const char *why);
void tc_plog_clear(void);
/* Waits (up to timeout_ms) for a packet named `name` matching `want` after
 * the previous match; the packets up to and including it are consumed.
 * 0, or -1 with why set (timed out / connection closed, and the nearest
 * misses: the last packets of that name that did not match). */
int tc_plog_expect(const char *name, const cJSON *want, int timeout_ms, char *why, size_t cap);
/* The same; on a match *got (if got) receives the matched packet's JSON
 * (caller cJSON_Delete). */
int tc_plog_expect_take(const char *name, const cJSON *want, int timeout_ms, cJSON **got, char *why,
                        size_t cap);

/* What a script does besides expect (tc_script.c binds these). */
typedef struct tc_script_ops_s {
    /* an interactive command line (writable); 1 = quit (the script ends) */
    int (*command)(char *line);
    /* sends packet `name` built from json (NULL = all fields zero); 0, or
     * -1 with err set */
    int (*send)(const char *name, const cJSON *json, char *err, size_t errlen);
} tc_script_ops_t;

/* Runs the script file: TC_SCRIPT_OK when every line ran (or quit),
 * TC_SCRIPT_FAILED with "script FILE:LINE: ..." on stderr at the first
 * failing line, TC_SCRIPT_USAGE when the file cannot be read. */
int tc_script_run_file(const char *path, const tc_script_ops_t *ops);

/* ---- tc_script.c: the protocol side ----------------------------------- */
/* Records a received packet for expect (cheap no-op unless a script runs). */
void tc_script_note(const proto_msg_t *m);
/* Prints a packet that has no pretty-printer: "< NAME {json}". */
void tc_print_json(const proto_msg_t *m);
/* `send PACKET {json}` typed interactively: prints why on failure. */
void tc_cmd_send(const char *rest);
/* --script FILE with the interactive client's command runner. */
int tc_script_main(const char *path, int (*command)(char *line));

#endif
